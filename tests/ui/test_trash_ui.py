"""The Archival tab's trash: move to trash, Undo, the Trash dialog's Restore and Empty trash.

Real parts throughout: the MainWindow and its threads, SQLite, a LanceDB archival store in
tmp_path with the MiniLM embedder; the emptied rows are looked for in the LanceDB table itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.config import Settings
from app.core.clock import SystemClock
from app.memory.archival import LanceArchivalStore
from app.memory.sqlite_store import SqliteStore
from app.runtime import Runtime
from app.ui.main_window import MainWindow
from app.ui.trash import Trash
from app.ui.trash_dialog import TrashDialog
from tests.fakes import InMemoryArchival
from tests.ui.conftest import SlowBackend

pytestmark = pytest.mark.embed

PASSAGES = {
    "pottery": ("Maya loves the Tuesday pottery classes in Lisbon.", "journal", ""),
    "tea": ("Tea at five with grandmother every Sunday.", "journal", ""),
    "invoice": ("Invoice 2291 for the roof repair is due in March.", "document", "bills.pdf"),
    "bike": ("The user's bike is a green Brompton.", "agent", ""),
}
WAIT_MS = 20_000


@pytest.fixture
def runtime(tmp_path: Path, backend: SlowBackend, minilm: Any) -> Iterator[Runtime]:
    """The conftest's runtime, with a real LanceDB archival store and MiniLM."""
    recall = SqliteStore(tmp_path / "engram.db")
    archival = LanceArchivalStore(tmp_path / "archival", minilm)
    rt = Runtime(tmp_path, Settings(), recall, archival, SystemClock())
    rt.backend = backend
    yield rt
    recall.close()


def store(runtime: Runtime) -> LanceArchivalStore:
    assert isinstance(runtime.archival, LanceArchivalStore)
    return runtime.archival


def fill(window: MainWindow, runtime: Runtime) -> tuple[str, dict[str, str]]:
    """The agent's id and the passage id for each key of PASSAGES."""
    agent_id = runtime.recall.list_agents()[0].id
    ids = {}
    for key, (text, source, location) in PASSAGES.items():
        ids[key] = store(runtime).insert(agent_id, [text], source=source, location=location)[0]
    return agent_id, ids


def list_all(qtbot: QtBot, window: MainWindow, count: int) -> None:
    window.show_tab(window.archival)
    qtbot.keyClick(window.archival.query, Qt.Key.Key_Return)  # empty query: the newest
    qtbot.waitUntil(lambda: window.archival.results.count() == count, timeout=WAIT_MS)


def move_to_trash(qtbot: QtBot, window: MainWindow, ids: set[str], left: int) -> None:
    results = window.archival.results
    for row in range(results.count()):
        item = results.item(row)
        item.setSelected(item.data(Qt.ItemDataRole.UserRole) in ids)
    qtbot.mouseClick(window.archival.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: results.count() == left, timeout=WAIT_MS)


def open_trash(qtbot: QtBot, window: MainWindow, rows: int) -> TrashDialog:
    qtbot.mouseClick(window.archival.trash_button, Qt.MouseButton.LeftButton)
    dialog = window.trash.dialog
    qtbot.waitUntil(lambda: dialog.isVisible() and dialog.row_count() == rows, timeout=WAIT_MS)
    return dialog


def answer_box(answer: Callable[[QMessageBox], None], seen: list[QMessageBox]) -> None:
    """Answer the next modal message box once it shows (from inside its exec loop)."""
    tries = [200]

    def handle() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box)
            answer(box)
        elif tries[0] > 0:
            tries[0] -= 1
            QTimer.singleShot(10, handle)

    QTimer.singleShot(0, handle)


def select(dialog: TrashDialog, ids: set[str]) -> None:
    tree = dialog.passages
    for row in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(row)
        item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) in ids)


def test_trash_lists_restores_and_empties_for_good(
    qtbot: QtBot, window: MainWindow, runtime: Runtime, tmp_path: Path
) -> None:
    agent_id, ids = fill(window, runtime)
    list_all(qtbot, window, 4)
    trashed = {ids["pottery"], ids["tea"], ids["invoice"]}
    move_to_trash(qtbot, window, trashed, left=1)
    assert store(runtime).count(agent_id) == 1
    assert {p.id for p in store(runtime).list_passages(agent_id, trash=True).items} == trashed

    dialog = open_trash(qtbot, window, rows=3)
    assert dialog.heading.text().startswith("3 passages in the trash")
    rows = {
        str(item.data(0, Qt.ItemDataRole.UserRole)): item
        for item in (dialog.passages.topLevelItem(i) for i in range(3))
    }
    invoice = rows[ids["invoice"]]
    assert invoice.text(0) == PASSAGES["invoice"][0]
    assert invoice.text(1) == "document · bills.pdf"
    assert invoice.text(3) == f"{len(PASSAGES['invoice'][0])} chars"
    assert rows[ids["tea"]].text(1) == "journal"
    assert not dialog.restore_button.isEnabled()  # nothing selected yet

    select(dialog, {ids["pottery"]})
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.row_count() == 2, timeout=WAIT_MS)
    assert "Restored 1 passage" in dialog.note.text()
    qtbot.waitUntil(lambda: window.archival.results.count() == 2, timeout=WAIT_MS)
    hits = store(runtime).search(agent_id, "pottery classes", page_size=3)
    assert hits.items and hits.items[0].id == ids["pottery"]
    counts = window.memory.counts
    qtbot.waitUntil(lambda: "2 passages in archival" in counts.text(), timeout=WAIT_MS)

    seen: list[QMessageBox] = []
    answer_box(lambda box: box.button(QMessageBox.StandardButton.Yes).click(), seen)
    qtbot.mouseClick(dialog.empty_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.heading.text() == "The trash is empty.", timeout=WAIT_MS)
    assert seen and seen[0].text() == "Delete 2 passages for good?"
    assert "Deleted 2 passages for good" in dialog.note.text()
    assert dialog.row_count() == 0 and not dialog.empty_button.isEnabled()

    import lancedb

    table = lancedb.connect(str(tmp_path / "archival")).open_table("archival")
    assert table.count_rows(f"id IN ('{ids['tea']}', '{ids['invoice']}')") == 0
    assert table.count_rows() == 2
    assert table.count_rows(f"id = '{ids['pottery']}' AND deleted = false") == 1
    assert store(runtime).count(agent_id) == 2


def test_empty_trash_defaults_to_cancel_and_cancel_keeps_everything(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    agent_id, ids = fill(window, runtime)
    list_all(qtbot, window, 4)
    move_to_trash(qtbot, window, {ids["tea"], ids["bike"]}, left=2)
    dialog = open_trash(qtbot, window, rows=2)
    box = dialog.empty_box()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    assert box.text() == "Delete 2 passages for good?"
    box.deleteLater()

    seen: list[QMessageBox] = []
    answer_box(lambda box: qtbot.keyClick(box, Qt.Key.Key_Return), seen)  # the default
    qtbot.mouseClick(dialog.empty_button, Qt.MouseButton.LeftButton)
    assert seen, "the confirmation box never showed"
    with qtbot.waitSignal(window.trash.worker.listed, timeout=WAIT_MS) as listed:
        dialog.refresh_requested.emit()  # queued after anything the Cancel might have sent
    assert listed.args is not None and listed.args[0].total == 2
    assert dialog.row_count() == 2
    assert store(runtime).list_passages(agent_id, trash=True).total == 2
    assert store(runtime).count(agent_id) == 2


def test_undo_in_the_archival_tab_brings_passages_back(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    agent_id, ids = fill(window, runtime)
    list_all(qtbot, window, 4)
    panel = window.archival
    assert panel.undo_button.isHidden()
    move_to_trash(qtbot, window, {ids["invoice"]}, left=3)
    assert not panel.undo_button.isHidden()
    assert panel.trashed_note.text() == "1 passage moved to the trash."
    assert store(runtime).list_passages(agent_id, trash=True).total == 1

    qtbot.mouseClick(panel.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.results.count() == 4, timeout=WAIT_MS)
    assert panel.undo_button.isHidden()
    assert store(runtime).list_passages(agent_id, trash=True).total == 0
    hits = store(runtime).search(agent_id, "roof repair invoice", page_size=1)
    assert hits.items[0].id == ids["invoice"]


def test_a_store_without_a_trash_says_so(qtbot: QtBot, tmp_path: Path) -> None:
    recall = SqliteStore(tmp_path / "engram.db")
    rt = Runtime(tmp_path, Settings(), recall, InMemoryArchival(), SystemClock())
    trash = Trash(rt)
    qtbot.addWidget(trash.dialog)
    trash.agent_id = "someone"
    try:
        trash.open()
        qtbot.waitUntil(lambda: "keeps no trash" in trash.dialog.note.text(), timeout=WAIT_MS)
        assert not trash.dialog.empty_button.isEnabled()
    finally:
        trash.shutdown()
        recall.close()
    assert not trash.running


def test_the_trash_follows_the_agent_shown(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    first, ids = fill(window, runtime)
    list_all(qtbot, window, 4)
    move_to_trash(qtbot, window, {ids["bike"]}, left=3)
    dialog = open_trash(qtbot, window, rows=1)
    window.requests.create_agent.emit("helper", "")
    qtbot.waitUntil(lambda: window.trash.agent_id not in ("", first), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.heading.text() == "The trash is empty.", timeout=WAIT_MS)
    assert window.archival.undo_button.isHidden()  # an Undo for the first agent is gone
    assert store(runtime).list_passages(first, trash=True).total == 1
