"""Journal reflection in the real window: reviews written on request and at launch, follow-up
questions, and dated journal citations that open the journal. Real SQLite, LanceDB and MiniLM;
the model is a ScriptedBackend driven through the real agent worker thread."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from app.config import Settings
from app.core.bootstrap import get_or_create_agent
from app.core.clock import SystemClock
from app.core.journal import Review, ReviewPeriod, catch_up_reviews, due_reviews
from app.llm.scripted import ScriptedBackend, call, reply
from app.memory.journal_store import JournalStore
from app.memory.sqlite_store import SqliteStore
from app.runtime import Runtime
from app.ui.bubbles import Bubble
from app.ui.describe import citation_label
from app.ui.main_window import MainWindow
from tests.ui.conftest import GREETING

pytestmark = pytest.mark.embed

WAIT = 20_000
SECRET = "frobozz-kept-out"
OLD_SECRET = "zorkmid-alone"
TODAY = SystemClock().now().date()
EARLIER = TODAY - timedelta(days=10)


@dataclass
class Diary:
    today_id: int
    maya_id: int
    secret_id: int
    old_secret_day: date


def prompts(backend: ScriptedBackend) -> str:
    return "\n".join(m.content for c in backend.calls for m in c.messages)


def review_calls(backend: ScriptedBackend) -> int:
    return sum(c.schema is None for c in backend.calls)  # agent turns are constrained


def write_diary(root: Path, *, extra_days: tuple[int, ...] = ()) -> Diary:
    now = SystemClock().now()
    root.mkdir(parents=True, exist_ok=True)
    with JournalStore(root / "engram.db") as j:
        today = j.create(TODAY, now, "Quiet day. I read a book about lighthouses.", mood=3)
        secret = j.create(TODAY, now, f"{SECRET}: nobody may know this.", keep_out=True)
        j.create(EARLIER, now, "Morning run along the canal.")
        maya = j.create(EARLIER, now, "Dinner with my sister Maya at the harbour.", mood=4)
        old = TODAY - timedelta(days=400)
        j.create(old, now, f"{OLD_SECRET} is all I wrote that day.", keep_out=True)
        for days in extra_days:
            j.create(TODAY - timedelta(days=days), now, f"A walk, {days} days ago.")
    return Diary(today.id, maya.id, secret.id, old)


def make_runtime(root: Path, embedder: Any, backend: ScriptedBackend, **journal: bool) -> Runtime:
    from app.memory.archival import LanceArchivalStore

    settings = Settings(**{"journal_auto_reviews": False, **journal})
    recall = SqliteStore(root / "engram.db")
    rt = Runtime(root, settings, recall, LanceArchivalStore(root / "archival", embedder))
    rt.backend = backend
    return rt


def open_window(qtbot: QtBot, rt: Runtime, settings: QSettings) -> MainWindow:
    win = MainWindow(rt, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.chat.last_reply_text() == GREETING, timeout=WAIT)
    qtbot.waitUntil(lambda: win.journal.running, timeout=WAIT)
    return win


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend([reply(GREETING, "Greet the user.")])


@pytest.fixture
def diary(tmp_path: Path) -> Diary:
    return write_diary(tmp_path)


@pytest.fixture
def runtime(
    tmp_path: Path, diary: Diary, backend: ScriptedBackend, minilm: Any
) -> Iterator[Runtime]:
    rt = make_runtime(tmp_path, minilm, backend, journal_follow_ups=True)
    yield rt
    rt.recall.close()


@pytest.fixture
def window(qtbot: QtBot, runtime: Runtime, settings: QSettings) -> Iterator[MainWindow]:
    win = open_window(qtbot, runtime, settings)
    yield win
    win.shutdown()
    assert not win.worker_thread.isRunning() and not win.journal.running


def test_review_button_writes_the_week_into_the_reviews_panel(
    qtbot: QtBot, window: MainWindow, backend: ScriptedBackend
) -> None:
    look = window.journal.view.look_back
    text = "A quiet week: lighthouses, and a calm mood."
    backend.enqueue(text)
    with qtbot.waitSignal(window.worker.review_written, timeout=WAIT) as written:
        look.weekly_button.click()
        assert not look.weekly_button.isEnabled()  # busy until the worker reports
        assert "Writing the weekly review of the week of" in look.review_status.text()
    review: Review = written.args[0]
    assert review.text == text and review.period == ReviewPeriod.containing("weekly", TODAY)
    qtbot.waitUntil(lambda: text in look.reviews.toPlainText(), timeout=WAIT)
    assert look.weekly_button.isEnabled() and "Wrote the weekly review" in look.review_status.text()
    assert "I read a book about lighthouses." in prompts(backend)
    assert SECRET not in prompts(backend)


def test_kept_out_entries_never_reach_the_model(
    qtbot: QtBot, window: MainWindow, backend: ScriptedBackend, diary: Diary
) -> None:
    journal, calls = window.journal, len(backend.calls)
    editor = journal.view.editor
    journal.open_entry(TODAY, diary.secret_id)
    qtbot.waitUntil(lambda: editor.entry_id == diary.secret_id, timeout=WAIT)
    assert editor.keep_out.isChecked()
    with qtbot.assertNotEmitted(journal.requests.reflect):
        editor.reflect_button.click()
    assert "kept out of memory" in editor.question.text()
    # Past the editor's check: the whole path refuses it too, without calling the model.
    with qtbot.waitSignal(window.worker.follow_up_ready, timeout=WAIT) as asked:
        journal.requests.reflect.emit(diary.secret_id)
    assert asked.args == [diary.secret_id, ""]
    # A month whose only entry is kept out has nothing to review: the panel says so.
    journal.view.open_day(diary.old_secret_day)
    look = journal.view.look_back
    with qtbot.waitSignal(window.worker.journal_failed, timeout=WAIT) as failed:
        look.monthly_button.click()
    assert failed.args[0] == "review"
    qtbot.waitUntil(lambda: "There are no journal entries from" in look.review_status.text())
    assert look.monthly_button.isEnabled()
    assert len(backend.calls) == calls
    assert SECRET not in prompts(backend) and OLD_SECRET not in prompts(backend)


def test_follow_up_question_after_reflect_goes_to_the_chat(
    qtbot: QtBot, window: MainWindow, backend: ScriptedBackend, diary: Diary
) -> None:
    journal = window.journal
    editor = journal.view.editor
    assert not editor.reflect_button.isHidden()  # the setting is on
    journal.open_entry(TODAY, diary.today_id)
    qtbot.waitUntil(lambda: editor.entry_id == diary.today_id, timeout=WAIT)
    editor.text.moveCursor(editor.text.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor.text, " The keeper's diary moved me.")
    question = "What was it about the keeper's diary that moved you?"
    backend.enqueue(f"{question}\nSome trailing words.")
    with qtbot.waitSignal(window.worker.follow_up_ready, timeout=WAIT) as asked:
        editor.reflect_button.click()  # saves first: the question sees the new words
    assert asked.args == [diary.today_id, question]
    assert "The keeper's diary moved me." in prompts(backend)
    qtbot.waitUntil(lambda: question in editor.question.text())
    assert not editor.reflection.isHidden()
    editor.answer_button.click()
    assert question in window.chat.input.toPlainText()
    assert editor.reflection.isHidden()


def test_leaving_an_edited_entry_asks_once(
    qtbot: QtBot, window: MainWindow, backend: ScriptedBackend, diary: Diary
) -> None:
    journal = window.journal
    editor = journal.view.editor
    journal.open_entry(TODAY, diary.today_id)
    qtbot.waitUntil(lambda: editor.entry_id == diary.today_id, timeout=WAIT)
    editor.text.moveCursor(editor.text.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor.text, " Then rain.")
    backend.enqueue("How did the rain change your evening?")
    with qtbot.waitSignal(window.worker.follow_up_ready, timeout=WAIT) as asked:
        journal.open_entry(EARLIER, diary.maya_id)  # leaving the entry asks about it
    assert asked.args == [diary.today_id, "How did the rain change your evening?"]
    qtbot.waitUntil(lambda: editor.entry_id == diary.maya_id, timeout=WAIT)
    qtbot.waitUntil(lambda: "rain change" in editor.question.text())
    assert "About " in editor.question.text()  # it names the entry's day: not the one shown
    with qtbot.assertNotEmitted(journal.requests.reflect):
        journal.open_entry(TODAY, diary.today_id)  # not typed in since: no new question
        qtbot.waitUntil(lambda: editor.entry_id == diary.today_id, timeout=WAIT)


def test_journal_citation_is_dated_and_opens_the_journal_at_its_day(
    qtbot: QtBot, window: MainWindow, runtime: Runtime, backend: ScriptedBackend, diary: Diary
) -> None:
    journal = window.journal
    agent_id = window.worker._agent_id()

    def indexed() -> bool:
        found = runtime.archival.search(agent_id, "sister Maya harbour", page_size=5)
        return any(p.metadata.get("entry_id") == diary.maya_id for p in found.items)

    qtbot.waitUntil(indexed, timeout=WAIT)
    backend.enqueue(
        call("archival_memory_search", query="sister Maya harbour", source="any", page=1),
        reply("You had dinner with Maya at the harbour."),
    )
    window.requests.send.emit("What did I write about Maya?")

    def cited() -> Bubble | None:
        return next((b for b in window.chat.bubbles() if b._sources), None)

    qtbot.waitUntil(lambda: cited() is not None, timeout=WAIT)
    bubble = cited()
    assert bubble is not None
    number = next(i for i, p in enumerate(bubble._sources, 1) if "Maya" in p.text)
    label = f"Journal · {EARLIER:%a} {EARLIER.day} {EARLIER:%b %Y}"
    assert citation_label(bubble._sources[number - 1]) == label
    assert label in bubble.footer.text()
    assert journal.dock is not None and not journal.dock.isVisible()
    bubble.footer.linkActivated.emit(f"source:{number}")  # what a click on the link sends
    assert journal.dock.isVisible()
    view = journal.view
    qtbot.waitUntil(lambda: view.editor.entry_id == diary.maya_id, timeout=WAIT)
    assert view.selected == EARLIER and "Maya" in view.editor.text.toPlainText()


def test_due_reviews_at_launch_are_capped_to_the_newest(
    qtbot: QtBot, tmp_path: Path, minilm: Any, settings: QSettings
) -> None:
    root = tmp_path / "auto"
    write_diary(root, extra_days=(20, 30, 45, 60, 75, 90))
    backend = ScriptedBackend([reply(GREETING, "Greet the user.")])
    rt = make_runtime(root, minilm, backend, journal_auto_reviews=True)
    info, _ = get_or_create_agent(rt.recall, rt.clock, rt.settings.default_agent)
    with JournalStore(root / "engram.db") as j:
        due = due_reviews(TODAY, repo=j, agent_id=info.id)
    expected = catch_up_reviews(due)
    assert len(due) > len(expected) == 3  # 2 weeks + 1 month, the rest left for later
    backend.enqueue(*(f"Review number {n}." for n in range(1, 5)))
    win = open_window(qtbot, rt, settings)
    try:
        # Asked after the launch's own reviews were queued, so it is written after them.
        this_week = ReviewPeriod.containing("weekly", TODAY)
        win.journal.view.review_requested.emit("weekly", this_week.start.isoformat())
        with JournalStore(root / "engram.db") as j:
            qtbot.waitUntil(lambda: len(j.reviews(info.id)) == 4, timeout=WAIT)
            periods = {r.period for r in j.reviews(info.id)}
        assert periods == {*expected, this_week}
        assert review_calls(backend) == 4
        assert SECRET not in prompts(backend) and OLD_SECRET not in prompts(backend)
        look = win.journal.view.look_back
        shown = look.reviews.toPlainText
        qtbot.waitUntil(lambda: shown().count("Review number") == 4, timeout=WAIT)
    finally:
        win.shutdown()
        rt.recall.close()


def test_follow_up_setting_is_saved_and_reaches_the_journal(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    editor = window.journal.view.editor
    assert not editor.reflect_button.isHidden()
    dialog = window.open_model_settings()
    assert dialog.follow_ups.isChecked() and not dialog.auto_reviews.isChecked()
    dialog.follow_ups.setChecked(False)
    dialog.auto_reviews.setChecked(True)
    dialog.save()
    saved = Settings.load(runtime.root)
    assert not saved.journal_follow_ups and saved.journal_auto_reviews
    assert editor.reflect_button.isHidden()  # no Reflect, no question on leaving an entry
