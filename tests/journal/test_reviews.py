"""Weekly and monthly reviews, due reviews and follow-up questions, with ScriptedBackend."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from app.core.journal import (
    JournalError,
    JournalIndexer,
    JournalSettings,
    ReviewPeriod,
    due_reviews,
    follow_up_question,
    write_review,
)
from app.llm.scripted import ScriptedBackend
from app.memory.journal_store import JournalStore
from tests.journal.conftest import NOW, TODAY, FilteringArchival

D = date
SECRET = "plugh-secret"
WEEK = ReviewPeriod.containing("weekly", D(2026, 3, 4))  # 2-8 March 2026
ON = JournalSettings(follow_up_questions=True)


def prompts(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for c in backend.calls for m in c.messages)


def fill_week(journal: JournalStore) -> list[int]:
    ids = [
        journal.create(D(2026, 3, 2), NOW, "Dinner with my sister Maya.", mood=4).id,
        journal.create(D(2026, 3, 5), NOW, "Deadline stress with Tom.", mood=2).id,
        journal.create(D(2026, 3, 7), NOW, "   ").id,  # blank: not reviewed
    ]
    journal.create(D(2026, 3, 6), NOW, f"{SECRET}: not for memory.", keep_out=True)
    journal.create(D(2026, 3, 9), NOW, "Next week already.")
    return ids


def test_weekly_review_is_written_and_stored(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    ids = fill_week(journal)
    backend = ScriptedBackend(["  A week of family warmth and work pressure.  "])
    review = write_review(
        WEEK, backend, repo=journal, archival=archival, agent_id=agent_id, now=NOW
    )
    assert review.text == "A week of family warmth and work pressure."
    assert review.entry_ids == tuple(ids[:2]) and WEEK.start == D(2026, 3, 2)
    [sent] = backend.calls
    assert sent.schema is None  # plain text, no schema
    assert "Dinner with my sister Maya." in prompts(backend) and "mood 2/5" in prompts(backend)
    assert SECRET not in prompts(backend) and "Next week" not in prompts(backend)
    [p] = [p for _, p in archival.rows]
    assert p.source == "journal" and p.tags == ("review", "weekly")
    assert p.metadata["entry_ids"] == list(ids[:2])
    assert p.created_at == datetime.combine(D(2026, 3, 8), time(12), tzinfo=UTC)
    assert journal.reviews(agent_id) == [review]


def test_monthly_review_replaces_an_older_one(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    fill_week(journal)
    month = ReviewPeriod.containing("monthly", D(2026, 3, 20))
    assert (month.start, month.end, month.label) == (D(2026, 3, 1), D(2026, 3, 31), "March 2026")
    backend = ScriptedBackend(["First take.", "Second take."])
    args = {"repo": journal, "archival": archival, "agent_id": agent_id, "now": NOW}
    write_review(month, backend, **args)  # type: ignore[arg-type]
    second = write_review(month, backend, **args)  # type: ignore[arg-type]
    assert [r.text for r in journal.reviews(agent_id)] == ["Second take."]
    assert [p.text for _, p in archival.rows] == ["Journal review of March 2026:\nSecond take."]
    assert second.passage_ids == (archival.rows[0][1].id,)


def test_empty_or_impossible_reviews_fail_cleanly(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    args = {"repo": journal, "archival": archival, "agent_id": agent_id, "now": NOW}
    with pytest.raises(JournalError, match="no journal entries"):
        write_review(WEEK, ScriptedBackend(), **args)  # type: ignore[arg-type]
    fill_week(journal)
    with pytest.raises(JournalError, match="empty review"):
        write_review(WEEK, ScriptedBackend(["   \n"]), **args)  # type: ignore[arg-type]
    assert archival.rows == [] and journal.reviews(agent_id) == []


def test_a_stopped_review_stores_nothing(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    fill_week(journal)
    backend = ScriptedBackend(["A long review that the user stops. " * 20])
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 3  # the user presses Stop after a few tokens

    args = {"repo": journal, "archival": archival, "agent_id": agent_id, "now": NOW}
    with pytest.raises(JournalError, match="Stopped"):
        write_review(WEEK, backend, stop=stop, **args)  # type: ignore[arg-type]
    assert len(asked) == 4  # asked between tokens, not only at the end
    assert archival.rows == [] and journal.reviews(agent_id) == []


def test_reviews_of_an_entry_made_private_are_removed(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    ids = fill_week(journal)
    indexer = JournalIndexer(journal, archival, agent_id)
    write_review(
        WEEK,
        ScriptedBackend(["Maya dinner."]),
        repo=journal,
        archival=archival,
        agent_id=agent_id,
        now=NOW,
    )
    indexer.set_keep_out(ids[0], True)
    assert journal.reviews(agent_id) == []
    assert all("review" not in p.tags for _, p in archival.rows)
    assert WEEK in due_reviews(TODAY, repo=journal, agent_id=agent_id)  # due again


def test_due_reviews(journal: JournalStore, archival: FilteringArchival, agent_id: str) -> None:
    journal.create(D(2026, 2, 10), NOW, "February")
    journal.create(D(2026, 3, 3), NOW, "early March")
    journal.create(D(2026, 3, 13), NOW, "this week: not over yet")
    journal.create(D(2026, 2, 25), NOW, "private only", keep_out=True)
    due = due_reviews(TODAY, repo=journal, agent_id=agent_id)
    assert due == [
        ReviewPeriod("weekly", D(2026, 3, 2), D(2026, 3, 8)),
        ReviewPeriod("monthly", D(2026, 2, 1), D(2026, 2, 28)),
        ReviewPeriod("weekly", D(2026, 2, 9), D(2026, 2, 15)),
    ]
    write_review(
        due[0],
        ScriptedBackend(["Done."]),
        repo=journal,
        archival=archival,
        agent_id=agent_id,
        now=NOW,
    )
    assert due_reviews(TODAY, repo=journal, agent_id=agent_id) == due[1:]
    assert due_reviews(TODAY, repo=journal, agent_id=agent_id, since=D(2026, 3, 1)) == []


def test_follow_up_question_is_off_by_default(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    entry = journal.create(TODAY, NOW, "Argued with Tom about the deadline.")
    backend = ScriptedBackend(["What would help?"])
    assert follow_up_question(entry, backend, archival, agent_id=agent_id) is None
    assert backend.calls == []


def test_follow_up_question(
    journal: JournalStore, archival: FilteringArchival, indexer: JournalIndexer, agent_id: str
) -> None:
    older = journal.create(D(2026, 3, 1), NOW, "Tom missed the deadline again.")
    entry = journal.create(TODAY, NOW, "Argued with Tom about the deadline.")
    indexer.catch_up()
    backend = ScriptedBackend(['"What do you wish Tom understood? I wonder."\nMore text'])
    question = follow_up_question(entry, backend, archival, agent_id=agent_id, settings=ON)
    assert question == "What do you wish Tom understood?"
    assert "Tom missed the deadline again." in prompts(backend)  # an earlier entry, for context
    assert prompts(backend).count("Argued with Tom") == 1  # today's entry not repeated
    assert older.id != entry.id


def test_follow_up_never_for_private_or_unusable(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    private = journal.create(TODAY, NOW, f"{SECRET} thoughts", keep_out=True)
    backend = ScriptedBackend(["Why?"])
    assert follow_up_question(private, backend, archival, agent_id=agent_id, settings=ON) is None
    assert backend.calls == []
    entry = journal.create(TODAY, NOW, "A quiet day.")
    statement = ScriptedBackend(["That sounds peaceful."])
    assert follow_up_question(entry, statement, archival, agent_id=agent_id, settings=ON) is None


class FlipsPrivateWhileWriting(ScriptedBackend):
    """The user keeps an entry out of memory while the model is writing the review."""

    def __init__(self, journal: JournalStore, entry_id: int) -> None:
        super().__init__(["A review that quotes the entry."])
        self.journal, self.entry_id = journal, entry_id

    def stream(self, messages, *, schema, params):  # type: ignore[no-untyped-def]
        self.journal.set_keep_out(self.entry_id, True)
        yield from super().stream(messages, schema=schema, params=params)


def test_entry_kept_out_during_review_discards_it(
    journal: JournalStore, archival: FilteringArchival, agent_id: str
) -> None:
    ids = fill_week(journal)
    backend = FlipsPrivateWhileWriting(journal, ids[0])
    with pytest.raises(JournalError, match="discarded"):
        write_review(WEEK, backend, repo=journal, archival=archival, agent_id=agent_id, now=NOW)
    assert archival.rows == [] and journal.reviews(agent_id) == []
