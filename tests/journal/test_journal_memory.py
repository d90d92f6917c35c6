"""The journal in archival memory: indexing, keep-out, crash recovery, dated questions, and
the guarantee that a kept-out entry never reaches the model."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from app.core.agent import Agent
from app.core.clock import ManualClock
from app.core.journal import (
    CHUNK_CHARS,
    JournalIndexer,
    ask_journal,
    chunk_text,
    journal_filter_for,
)
from app.core.protocols import ArchivalFilter
from app.llm.scripted import ScriptedBackend, call, reply
from app.memory.journal_store import JournalStore
from app.memory.sqlite_store import SqliteStore
from tests.journal.conftest import BIRTHDAY, NOW, TODAY, FilteringArchival, write_year

D = date
SECRET = "xyzzy-diagnosis"


def passages(archival: FilteringArchival) -> list[Any]:
    return [p for _, p in archival.rows]


def test_entry_is_indexed_with_its_date_mood_and_tags(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    e = journal.create(
        D(2026, 3, 3), NOW, "Walked with Maya.", mood=4, mood_tags=["calm"], tags=["family"]
    )
    assert indexer.reindex(e.id) == 1
    [p] = passages(archival)
    assert p.source == "journal" and p.tags == ("family",)
    assert p.created_at == datetime.combine(D(2026, 3, 3), time(12), tzinfo=UTC)
    assert (
        p.text == "Journal, Tuesday 3 March 2026; mood 4/5 (calm); tags: family\nWalked with Maya."
    )
    assert p.metadata["entry_id"] == e.id and p.metadata["day"] == "2026-03-03"
    assert (p.metadata["mood"], p.metadata["mood_tags"]) == (4, ["calm"])
    assert p.location == "journal 2026-03-03"
    assert journal.pending_index(agent_id) == []


def test_edit_replaces_the_passages(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    e = journal.create(TODAY, NOW, "first draft")
    indexer.reindex(e.id)
    old = {p.id for p in passages(archival)}
    journal.save(e.id, "second draft", NOW)
    assert journal.pending_index(agent_id) == [e.id]
    indexer.reindex(e.id)
    assert [p.text.splitlines()[-1] for p in passages(archival)] == ["second draft"]
    assert not old & {p.id for p in passages(archival)}
    state = journal.index_state(agent_id, e.id)
    assert state is not None and state.stale_ids == () and state.revision == 2


def test_long_entries_are_chunked(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival
) -> None:
    para = "A sentence about the long day at the lake. " * 30
    e = journal.create(TODAY, NOW, "\n\n".join([para] * 5) + "\n\n" + "x" * 2500)
    count = indexer.reindex(e.id)
    assert count == len(passages(archival)) > 5
    heading = "Journal, Saturday 14 March 2026\n"
    assert all(p.text.startswith(heading) for p in passages(archival))
    assert all(len(p.text) - len(heading) <= CHUNK_CHARS for p in passages(archival))
    assert chunk_text("") == [] and chunk_text("one\n\ntwo") == ["one\n\ntwo"]


def test_blank_entries_have_no_passages(journal: JournalStore, indexer: JournalIndexer) -> None:
    e = journal.create(TODAY, NOW, "  \n")
    assert indexer.reindex(e.id) == 0
    assert journal.pending_index(indexer.agent_id) == []


def test_keep_out_removes_and_restores(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    e = journal.create(TODAY, NOW, f"About {SECRET}.")
    indexer.reindex(e.id)
    assert len(passages(archival)) == 1
    assert indexer.set_keep_out(e.id, True).keep_out
    assert passages(archival) == [] and journal.index_state(agent_id, e.id) is None
    assert indexer.reindex(e.id) == 0 and passages(archival) == []  # stays out
    indexer.set_keep_out(e.id, False)
    assert len(passages(archival)) == 1


def test_private_from_the_start_is_never_embedded(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival
) -> None:
    e = journal.create(TODAY, NOW, f"About {SECRET}.", keep_out=True)
    journal.save(e.id, f"More about {SECRET}.", NOW)
    assert indexer.catch_up() == 0
    assert indexer.reindex(e.id) == 0 and passages(archival) == []


def test_delete_removes_passages(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival
) -> None:
    e = journal.create(TODAY, NOW, "to be deleted")
    indexer.reindex(e.id)
    indexer.delete(e.id)
    assert passages(archival) == [] and journal.get(e.id) is None


def test_catch_up_finishes_what_a_crash_left(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    kept = journal.create(TODAY, NOW, "ordinary day")
    hidden = journal.create(TODAY, NOW, f"{SECRET} entry")
    gone = journal.create(TODAY, NOW, "deleted later")
    never = journal.create(TODAY, NOW, "imported, never indexed")
    for e in (kept, hidden, gone):
        indexer.reindex(e.id)
    # Crashes right after the journal committed and before archival memory followed:
    journal.save(kept.id, "ordinary day, edited", NOW)  # edit without reindex
    journal.set_keep_out(hidden.id, True)  # flag without purge
    journal.delete(gone.id)  # row gone, passages left
    assert journal.pending_index(agent_id) == [kept.id, hidden.id, gone.id, never.id]
    assert indexer.catch_up() == 4
    texts = " ".join(archival.texts())
    assert "edited" in texts and "never indexed" in texts
    assert SECRET not in texts and "deleted later" not in texts
    assert journal.pending_index(agent_id) == []


def test_stale_passages_left_by_a_crash_are_deleted(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    e = journal.create(TODAY, NOW, "v1")
    indexer.reindex(e.id)
    [old] = passages(archival)
    new_ids = archival.insert(agent_id, ["v1 again"], source="journal")
    assert journal.record_index(agent_id, e.id, e.revision, new_ids)  # then "crash"
    assert journal.pending_index(agent_id) == [e.id]
    indexer.catch_up()
    assert [p.id for p in passages(archival)] != [old.id] and len(passages(archival)) == 1


class FlipsPrivateOnInsert(FilteringArchival):
    """The user ticks "keep out" (GUI thread) while the indexer is embedding."""

    def __init__(self, journal: JournalStore) -> None:
        super().__init__()
        self.journal = journal

    def insert(self, agent_id: str, texts: Sequence[str], **kw: Any) -> list[str]:
        ids = super().insert(agent_id, texts, **kw)
        for entry in self.journal.all_entries():
            self.journal.set_keep_out(entry.id, True)
        return ids


def test_keep_out_during_indexing_wins(journal: JournalStore, agent_id: str) -> None:
    archival = FlipsPrivateOnInsert(journal)
    e = journal.create(TODAY, NOW, f"{SECRET} while indexing")
    assert JournalIndexer(journal, archival, agent_id).reindex(e.id) == 0
    assert archival.rows == [] and journal.pending_index(agent_id) == []


def test_dated_questions_find_only_that_period(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    year = write_year(journal)
    assert indexer.catch_up() == 365
    cases = {
        "What did I write about my sister in March?": (D(2026, 3, 1), D(2026, 3, 31)),
        "my sister in March 2025": (D(2025, 3, 1), D(2025, 3, 31)),
        "what did I write about my sister last week?": (D(2026, 3, 2), D(2026, 3, 8)),
        "sister on my birthday": (D(2025, 7, 4), D(2025, 7, 4)),
        "Maya two weeks ago": (D(2026, 2, 23), D(2026, 3, 1)),
        "my sister in 2025": (D(2025, 1, 1), D(2025, 12, 31)),
    }
    for question, (first, last) in cases.items():
        want = {d for d in year.sister_days if first <= d <= last}
        answer = ask_journal(question, archival, agent_id, TODAY, birthday=BIRTHDAY, page_size=100)
        got = {h.day for h in answer.hits}
        assert got == want, question
        assert answer.total == len(want) and all(h.entry_id for h in answer.hits)
        assert all(h.citation == f"journal {h.day.isoformat()}" for h in answer.hits)
    assert len([d for d in year.sister_days if d.month == 3 and d.year == 2026]) >= 2


def test_date_only_question_lists_the_period(
    journal: JournalStore, indexer: JournalIndexer, archival: FilteringArchival, agent_id: str
) -> None:
    write_year(journal)
    journal.create(D(2026, 3, 13), NOW, f"{SECRET}", keep_out=True)
    answer = ask_journal("What did I write yesterday?", archival, agent_id, TODAY, repo=journal)
    assert [h.day for h in answer.hits] == [D(2026, 3, 13)] and answer.total == 1
    assert SECRET not in answer.hits[0].text
    week = ask_journal("last week", archival, agent_id, TODAY, repo=journal, page_size=3)
    assert (week.total, len(week.hits)) == (7, 3)


def test_journal_filter_for() -> None:
    q = journal_filter_for("What did I write about my sister in March?", TODAY)
    assert q.text == "What did I write about my sister?" and q.keywords == "sister"
    assert q.filter == ArchivalFilter(
        sources=("journal",),
        start=datetime(2026, 3, 1, tzinfo=UTC),
        end=datetime.combine(D(2026, 3, 31), time.max, tzinfo=UTC),
    )
    east = timezone(timedelta(hours=-5))
    local = journal_filter_for("in March", TODAY, sources=(), tz=east)
    assert local.filter.sources == () and local.filter.start == datetime(2026, 3, 1, tzinfo=east)
    assert local.filter.start is not None and local.filter.end is not None
    for day, inside in [(D(2026, 2, 28), False), (D(2026, 3, 1), True), (D(2026, 3, 31), True)]:
        noon = datetime.combine(day, time(12), tzinfo=UTC)  # where journal passages sit
        assert (local.filter.start <= noon <= local.filter.end) is inside
    plain = journal_filter_for("Maya pottery", TODAY, sources=())
    assert (
        plain.dates is None
        and plain.filter == ArchivalFilter()
        and plain.search_text == "maya pottery"
    )


def test_kept_out_text_never_reaches_a_prompt(
    journal: JournalStore,
    indexer: JournalIndexer,
    archival: FilteringArchival,
    recall: SqliteStore,
    agent_id: str,
    clock: ManualClock,
) -> None:
    public = journal.create(D(2026, 3, 10), NOW, "Lunch with my sister Maya, lovely.")
    journal.create(D(2026, 3, 11), NOW, f"My sister's biopsy: {SECRET}.", keep_out=True)
    was_public = journal.create(D(2026, 3, 12), NOW, f"Sister biopsy results, {SECRET}.")
    indexer.catch_up()
    indexer.set_keep_out(was_public.id, True)
    assert all(SECRET not in t for t in archival.texts())
    assert {p.metadata["entry_id"] for p in passages(archival)} == {public.id}

    backend = ScriptedBackend(
        [
            reply("Hello!"),
            call("archival_memory_search", query="sister biopsy results", source="any", page=1),
            reply("You had lunch with Maya."),
        ]
    )
    agent = Agent(agent_id, backend=backend, recall=recall, archival=archival, clock=clock)
    list(agent.run())  # the greeting
    events = list(agent.chat("What did my sister tell me about the biopsy?"))
    assert any(getattr(e, "name", "") == "archival_memory_search" for e in events)
    prompts = [m.content for c in backend.calls for m in c.messages]
    assert any("Lunch with my sister Maya" in p for p in prompts)  # the search did run
    assert not any(SECRET in p for p in prompts)
