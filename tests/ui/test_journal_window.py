"""The journal inside the real main window: its menu and shortcuts, quick capture from anywhere,
and its thread joined when the window shuts down (the conftest fails a test that leaves a
QThread running)."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from pytestqt.qtbot import QtBot

from app.memory.journal_store import JournalStore
from app.runtime import Runtime
from app.ui.journal_dock import CAPTURE_KEYS, OPEN_KEYS
from app.ui.main_window import MainWindow

WAIT = 10_000


def action_for(window: MainWindow, keys: str) -> QAction:
    found = [a for a in window.findChildren(QAction) if a.shortcut() == QKeySequence(keys)]
    assert len(found) == 1, [a.text() for a in found]
    return found[0]


def test_journal_menu_and_shortcuts(qtbot: QtBot, window: MainWindow) -> None:
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Journal" in titles
    journal = window.journal
    qtbot.waitUntil(lambda: journal.running, timeout=WAIT)  # started with the agent
    assert journal.dock is not None and not journal.dock.isVisible()
    action_for(window, OPEN_KEYS).trigger()
    assert journal.dock.isVisible()


def test_quick_capture_from_the_main_window(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    capture = window.journal.quick_capture
    assert capture is not None
    action_for(window, CAPTURE_KEYS).trigger()
    assert capture.isVisible()
    qtbot.keyClicks(capture.text, "Idea while chatting: a garden diary.")
    capture.add_button.click()
    assert not capture.isVisible()
    today = runtime.clock.now().date()
    with JournalStore(runtime.root / "engram.db") as store:
        qtbot.waitUntil(
            lambda: (
                [e.text for e in store.entries_on(today)]
                == ["Idea while chatting: a garden diary."]
            ),
            timeout=WAIT,
        )
    window.shutdown()
    assert not window.journal.running
