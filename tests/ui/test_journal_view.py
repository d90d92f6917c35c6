"""The journal view (pytest-qt, offscreen) on real parts: SQLite engram.db, LanceDB archival
memory with the hash embedder, the real worker thread. Waiting is on conditions and signals,
never on time."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLineEdit, QMessageBox
from pytestqt.qtbot import QtBot

from app.config import Settings
from app.core.bootstrap import create_agent
from app.core.clock import ManualClock
from app.core.messages import AgentInfo
from app.memory.journal_store import JournalStore
from app.memory.sqlite_store import SqliteStore
from app.runtime import Runtime
from app.ui.journal_dock import Journal, QuickCapture
from app.ui.journal_view import qdate

archival_module = pytest.importorskip("app.memory.archival")
embedder_module = pytest.importorskip("app.memory.embedder")

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
SECRET = "zyzzyva-private-words"
WAIT = 10_000


def runtime_archival(root: Path) -> object:
    return archival_module.LanceArchivalStore(root / "archival", embedder_module.HashEmbedder())


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    recall = SqliteStore(tmp_path / "engram.db")
    yield Runtime(tmp_path, Settings(), recall, runtime_archival(tmp_path), ManualClock(NOW))
    recall.close()


@pytest.fixture
def agent(runtime: Runtime) -> AgentInfo:
    return create_agent(runtime.recall, runtime.clock, "engram")


@pytest.fixture
def store(runtime: Runtime) -> Iterator[JournalStore]:
    """A second connection to the same engram.db: what is on disk, not what the view shows."""
    with JournalStore(runtime.root / "engram.db") as s:
        yield s


class Relay(QObject):
    """Re-emits a worker-thread signal in the GUI thread (a queued connection), so that
    qtbot.waitSignal's timer is never touched from the worker thread."""

    fired = Signal(object)

    def __init__(self, signal: SignalInstance) -> None:
        super().__init__()
        signal.connect(self.take)

    @Slot(object)
    def take(self, value: object) -> None:
        self.fired.emit(value)


def on_gui(journal: Journal, name: str) -> SignalInstance:
    """The worker's signal `name`, as heard in the GUI thread."""
    relays: dict[str, Relay] = journal.__dict__.setdefault("_test_relays", {})
    if name not in relays:
        relays[name] = Relay(getattr(journal.worker, name))
    return relays[name].fired


def open_journal(qtbot: QtBot, runtime: Runtime, agent: AgentInfo) -> Journal:
    journal = Journal(runtime)
    qtbot.addWidget(journal.view)
    journal.view.resize(1200, 720)
    journal.view.show()
    with qtbot.waitSignal(on_gui(journal, "look_back"), timeout=WAIT):
        journal.follow(agent)
    qtbot.waitUntil(lambda: bool(journal.view.streak.text()), timeout=WAIT)
    return journal


@pytest.fixture
def journal(qtbot: QtBot, runtime: Runtime, agent: AgentInfo) -> Iterator[Journal]:
    j = open_journal(qtbot, runtime, agent)
    yield j
    j.shutdown()
    assert not j.worker_thread.isRunning()


def texts_on(store: JournalStore, day: date) -> list[str]:
    return [e.text for e in store.entries_on(day)]


def all_passages(runtime: Runtime, agent: AgentInfo) -> list[str]:
    page = runtime.archival.list_passages(agent.id, page_size=1000)  # type: ignore[attr-defined]
    return [p.text for p in page.items]


def test_typing_autosaves_and_reopening_shows_it(
    qtbot: QtBot, runtime: Runtime, agent: AgentInfo, store: JournalStore
) -> None:
    journal = open_journal(qtbot, runtime, agent)
    editor = journal.view.editor
    assert editor.day == TODAY and editor.entry_id == 0  # a new draft for today
    qtbot.keyClicks(editor.text, "Dear diary, ")
    qtbot.keyClicks(editor.text, "today I planted tomatoes.")
    # No focus change, no close: the debounce timer alone writes it to disk.
    qtbot.waitUntil(
        lambda: texts_on(store, TODAY) == ["Dear diary, today I planted tomatoes."], timeout=WAIT
    )
    qtbot.waitUntil(lambda: editor.entry_id != 0, timeout=WAIT)
    assert len(store.entries_on(TODAY)) == 1  # every autosave went to the same entry
    journal.shutdown()

    again = open_journal(qtbot, runtime, agent)
    qtbot.waitUntil(lambda: again.view.editor.entry_id != 0, timeout=WAIT)
    assert again.view.editor.text.toPlainText() == "Dear diary, today I planted tomatoes."
    assert again.view.day_list.count() == 1
    again.shutdown()


def test_focus_out_saves_without_waiting_for_the_timer(
    qtbot: QtBot, journal: Journal, store: JournalStore
) -> None:
    editor = journal.view.editor
    editor.timer.setInterval(3_600_000)  # only focus-out can save now
    editor.text.setFocus()
    qtbot.keyClicks(editor.text, "Written, then clicked away.")
    assert texts_on(store, TODAY) == []
    editor.tags.setFocus()
    qtbot.waitUntil(lambda: texts_on(store, TODAY) == ["Written, then clicked away."], timeout=WAIT)


def test_closing_saves_the_last_keystrokes(
    qtbot: QtBot, runtime: Runtime, agent: AgentInfo, store: JournalStore
) -> None:
    journal = open_journal(qtbot, runtime, agent)
    journal.view.editor.timer.setInterval(3_600_000)
    qtbot.keyClicks(journal.view.editor.text, "Typed just before quitting")
    journal.shutdown()  # what closing the window does
    assert texts_on(store, TODAY) == ["Typed just before quitting"]


def test_calendar_marks_written_days_and_the_streak(
    qtbot: QtBot, runtime: Runtime, agent: AgentInfo, store: JournalStore
) -> None:
    written = [TODAY - timedelta(days=n) for n in (0, 1, 2, 5)]
    for day in written:
        store.create(day, NOW, f"Entry of {day}", mood=4 if day == TODAY else None)
    store.create(TODAY - timedelta(days=3), NOW, "   ")  # blank: not a written day
    journal = open_journal(qtbot, runtime, agent)
    view = journal.view
    qtbot.waitUntil(lambda: set(view.marked) == set(written), timeout=WAIT)
    cal = view.calendar
    for n in range(10):
        day = TODAY - timedelta(days=n)
        bold = cal.dateTextFormat(qdate(day)).fontWeight() == QFont.Weight.Bold
        assert bold == (day in written), day
    assert "<b>3</b> days" in view.streak.text()
    assert "4 days written" in view.streak.text()

    view.open_day(TODAY - timedelta(days=5))  # clicking a marked day shows its entry
    qtbot.waitUntil(lambda: view.editor.day == TODAY - timedelta(days=5), timeout=WAIT)
    qtbot.waitUntil(lambda: view.editor.text.toPlainText().startswith("Entry of"), timeout=WAIT)
    journal.shutdown()


def test_kept_out_entry_never_reaches_archival(
    qtbot: QtBot, journal: Journal, runtime: Runtime, agent: AgentInfo, store: JournalStore
) -> None:
    view, editor = journal.view, journal.view.editor
    # A private entry: "keep out" ticked before the first word.
    editor.keep_out.setChecked(True)
    qtbot.keyClicks(editor.text, f"My sister told me {SECRET}.")
    editor.flush()
    qtbot.waitUntil(lambda: editor.entry_id != 0, timeout=WAIT)
    # A public one the same day, then an entry made private after it was indexed.
    with qtbot.waitSignal(on_gui(journal, "created"), timeout=WAIT):
        view.new_entry()
    assert view.day_list.count() == 2
    assert editor.entry_id == store.entries_on(TODAY)[1].id and not editor.keep_out.isChecked()
    qtbot.keyClicks(editor.text, "Lunch with my sister, public.")
    editor.flush()
    was_public = store.create(TODAY - timedelta(days=1), NOW, f"Results: {SECRET} again.")
    with qtbot.waitSignal(on_gui(journal, "indexed"), timeout=WAIT):
        journal.requests.index_now.emit()
    with qtbot.waitSignal(on_gui(journal, "indexed"), timeout=WAIT):  # catch_up indexes it
        journal.follow(agent)
    assert any(SECRET in t for t in all_passages(runtime, agent))  # the check can fail
    view.open_day(was_public.day)
    qtbot.waitUntil(lambda: editor.entry_id == was_public.id, timeout=WAIT)
    with qtbot.waitSignal(on_gui(journal, "entry_changed"), timeout=WAIT):
        editor.keep_out.setChecked(True)
    passages = all_passages(runtime, agent)
    assert any("Lunch with my sister, public." in t for t in passages)
    assert not any(SECRET in t for t in passages)
    entries = {e.text: e for e in store.all_entries()}
    assert entries[f"My sister told me {SECRET}."].keep_out
    assert entries[f"Results: {SECRET} again."].keep_out


def test_mood_chart_has_a_point_per_week_and_month(
    qtbot: QtBot, runtime: Runtime, agent: AgentInfo, store: JournalStore
) -> None:
    start = TODAY - timedelta(days=69)  # ten weeks of days
    for n in range(70):
        store.create(start + timedelta(days=n), NOW, f"day {n}", mood=1 + n % 5)
    journal = open_journal(qtbot, runtime, agent)
    chart = journal.view.look_back.chart
    qtbot.waitUntil(lambda: len(chart.points) > 0, timeout=WAIT)
    weeks = {d - timedelta(days=d.weekday()) for d in (start + timedelta(n) for n in range(70))}
    assert [p[0] for p in chart.points] == sorted(weeks)
    assert all(1 <= p[1] <= 5 for p in chart.points)
    spots = chart.positions()
    assert len(spots) == len(weeks)
    assert all(a.x() < b.x() for a, b in itertools.pairwise(spots))
    assert not chart.grab().isNull()
    journal.view.look_back.bucket.setCurrentText("month")
    assert [p[0] for p in chart.points] == [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    journal.shutdown()


def test_search_by_words_and_meaning_with_dates(
    qtbot: QtBot, journal: Journal, agent: AgentInfo, store: JournalStore
) -> None:
    store.create(date(2026, 1, 10), NOW, "Pottery class with Maya in January.")
    store.create(date(2026, 3, 2), NOW, "Pottery again, with Maya, in March.")
    store.create(date(2026, 3, 3), NOW, f"Pottery {SECRET}.", keep_out=True)
    with qtbot.waitSignal(on_gui(journal, "indexed"), timeout=WAIT):  # catch_up indexes them
        journal.follow(agent)
    panel = journal.view.search
    panel.query.setText("pottery")
    panel.use_dates.setChecked(True)
    panel.start.setDate(qdate(date(2026, 3, 1)))
    panel.end.setDate(qdate(date(2026, 3, 31)))
    with qtbot.waitSignal(on_gui(journal, "results"), timeout=WAIT) as blocker:
        panel.run()
    found = blocker.args[0]
    assert {m.entry.day for m in found.words} == {date(2026, 3, 2), date(2026, 3, 3)}
    assert found.meaning and all(d.month == 3 for d, _, _ in found.meaning)
    assert not any(SECRET in text for _, _, text in found.meaning)
    rows = [panel.results.item(i).text() for i in range(panel.results.count())]
    assert any("[private]" in r for r in rows) and any("Maya" in r for r in rows)


def test_quick_capture_writes_into_today(
    qtbot: QtBot, journal: Journal, store: JournalStore
) -> None:
    view = journal.view
    view.open_day(TODAY - timedelta(days=1))  # the view shows another day
    qtbot.waitUntil(lambda: view.editor.day == TODAY - timedelta(days=1), timeout=WAIT)
    capture = QuickCapture()
    qtbot.addWidget(capture)
    capture.captured.connect(journal.capture)
    capture.open_blank()
    qtbot.keyClicks(capture.text, "Call grandma on Sunday.")
    capture.add_button.click()
    qtbot.waitUntil(lambda: texts_on(store, TODAY) == ["Call grandma on Sunday."], timeout=WAIT)
    # With today's entry open, a capture lands in the editor (and on disk) as a new paragraph.
    view.open_day(TODAY)
    qtbot.waitUntil(lambda: view.editor.entry_id != 0, timeout=WAIT)
    journal.capture("Also: buy seeds.")
    assert view.editor.text.toPlainText() == "Call grandma on Sunday.\n\nAlso: buy seeds."
    qtbot.waitUntil(
        lambda: texts_on(store, TODAY) == ["Call grandma on Sunday.\n\nAlso: buy seeds."],
        timeout=WAIT,
    )


def test_mood_and_tags_are_saved(qtbot: QtBot, journal: Journal, store: JournalStore) -> None:
    editor = journal.view.editor
    qtbot.keyClicks(editor.text, "A good day.")
    editor.flush()
    qtbot.waitUntil(lambda: editor.entry_id != 0, timeout=WAIT)
    editor.mood.setCurrentIndex(editor.mood.findData(4))
    field: QLineEdit = editor.tags
    field.setText("garden, #family")
    field.editingFinished.emit()
    qtbot.waitUntil(
        lambda: (
            (e := store.get(editor.entry_id)) is not None
            and (e.mood, e.tags) == (4, ("garden", "family"))
        ),
        timeout=WAIT,
    )
    row = journal.view.day_list.item(0)
    qtbot.waitUntil(lambda: "[4/5]" in row.text(), timeout=WAIT)
    assert Qt.ItemFlag.ItemIsEnabled & row.flags()


def test_export_then_import_into_an_empty_profile(
    qtbot: QtBot, journal: Journal, store: JournalStore, tmp_path: Path
) -> None:
    store.create(date(2026, 3, 1), NOW, "# Sunday\n\nPancakes.", mood=5, tags=["food"])
    store.create(date(2026, 3, 1), NOW, "Second entry, private.", keep_out=True)
    store.create(date(2026, 3, 2), NOW, "Monday: *work*.", mood=2, mood_tags=["tired"])
    with qtbot.waitSignal(on_gui(journal, "message"), timeout=WAIT) as done:
        journal.export("markdown", str(tmp_path / "export"))
    assert "Exported 3" in done.args[0]
    with qtbot.waitSignal(on_gui(journal, "message"), timeout=WAIT):
        journal.export("json", str(tmp_path / "journal.json"))

    def fields(s: JournalStore) -> list[tuple[object, ...]]:
        return [(e.day, e.text, e.mood, e.mood_tags, e.tags, e.keep_out) for e in s.all_entries()]

    for n, source in enumerate((tmp_path / "export", tmp_path / "journal.json")):
        other = tmp_path / f"profile{n}"
        other.mkdir()
        recall = SqliteStore(other / "engram.db")
        rt = Runtime(other, Settings(), recall, runtime_archival(other), ManualClock(NOW))
        fresh = open_journal(qtbot, rt, create_agent(recall, rt.clock, "engram"))
        with qtbot.waitSignal(on_gui(fresh, "imported"), timeout=WAIT):
            fresh.import_from(str(source))
        assert "Imported 3 entries" in fresh.view.notice.text()
        qtbot.waitUntil(lambda f=fresh: len(f.view.marked) == 2, timeout=WAIT)
        fresh.shutdown()
        with JournalStore(other / "engram.db") as imported:
            assert fields(imported) == fields(store)
        recall.close()


def test_delete_asks_then_removes_entry_and_passages(
    qtbot: QtBot,
    journal: Journal,
    runtime: Runtime,
    agent: AgentInfo,
    store: JournalStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keep = store.create(TODAY, NOW, "Keep this one about apples.")
    gone = store.create(TODAY, NOW, "Delete this one about pears.")
    with qtbot.waitSignal(on_gui(journal, "indexed"), timeout=WAIT):
        journal.follow(agent)
    assert any("pears" in t for t in all_passages(runtime, agent))
    view = journal.view
    view.load()
    qtbot.waitUntil(lambda: view.day_list.count() == 2, timeout=WAIT)
    view.day_list.setCurrentRow(1)
    assert view.editor.entry_id == gone.id
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    monkeypatch.setattr(QMessageBox, "question", lambda *a: answers.pop(0))
    view.editor.delete_button.click()  # "No": nothing happens
    assert store.get(gone.id) is not None
    with qtbot.waitSignal(on_gui(journal, "day"), timeout=WAIT):
        view.editor.delete_button.click()
    assert store.get(gone.id) is None and view.day_list.count() == 1
    assert view.editor.entry_id == keep.id
    passages = all_passages(runtime, agent)
    assert any("apples" in t for t in passages) and not any("pears" in t for t in passages)
