"""The archival trash in the window: list, restore and empty deleted passages off the UI thread.

Deleting a passage in the Archival tab is a soft delete (`deleted = true` in LanceDB); the
passage stays here until the user empties the trash. `install_trash(window, runtime)` is the
one call the main window makes: it ties the Archival tab's "Trash…" button and its "Undo" of a
move to the trash to a `Trash` controller.

`TrashWorker` does the store work in a QThread of its own ("engram-trash"), like the document
and journal workers: the LanceDB store serialises its reads and writes with a lock, so it can
be used beside the agent's thread. The thread starts on first use and is joined when the window
shuts down. Listings carry their agent's id, so a listing that arrives after the user switched
agents is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, cast

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtWidgets import QApplication, QWidget

from app.core.errors import EngramError, InputError
from app.core.messages import AgentInfo, Page, Passage
from app.runtime import Runtime
from app.ui.describe import plural
from app.ui.trash_dialog import TrashDialog, TrashListing

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger("engram.ui")

SHOWN = 500  # the newest deleted passages listed; the heading tells the true total
JOIN_TIMEOUT_MS = 30_000


class TrashStore(Protocol):
    """The trash methods of LanceArchivalStore (not part of the core ArchivalStore protocol)."""

    def list_passages(
        self, agent_id: str, *, page: int = 1, page_size: int = 20, trash: bool = False
    ) -> Page[Passage]: ...

    def restore(self, agent_id: str, passage_ids: Sequence[str]) -> int: ...

    def purge_deleted(self, agent_id: str) -> int: ...


class TrashWorker(QObject):
    """Lists, restores and purges deleted passages, in the trash thread."""

    listed = Signal(object)  # TrashListing
    restored = Signal(int)
    emptied = Signal(int)
    error = Signal(str)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime

    def _store(self) -> TrashStore:
        archival = self._runtime.archival
        if not all(hasattr(archival, n) for n in ("list_passages", "restore", "purge_deleted")):
            raise InputError("This archival memory keeps no trash.")
        return cast(TrashStore, archival)

    @Slot(str)
    def list_trash(self, agent_id: str) -> None:
        try:
            page = self._store().list_passages(agent_id, page_size=SHOWN, trash=True)
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.listed.emit(TrashListing(agent_id, page.items, page.total))

    @Slot(str, object)
    def restore(self, agent_id: str, passage_ids: Sequence[str]) -> None:
        try:
            restored = self._store().restore(agent_id, list(passage_ids))
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.restored.emit(restored)
        self.list_trash(agent_id)

    @Slot(str)
    def empty(self, agent_id: str) -> None:
        try:
            purged = self._store().purge_deleted(agent_id)
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.emptied.emit(purged)
        self.list_trash(agent_id)

    @Slot()
    def shutdown(self) -> None:
        """Queued after the work already asked for, so that work finishes first."""
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class TrashRequests(QObject):
    """What the window asks of the TrashWorker (queued into its thread)."""

    list_trash = Signal(str)
    restore = Signal(str, object)
    empty = Signal(str)
    shutdown = Signal()

    def connect_to(self, worker: TrashWorker) -> None:
        for name in ("list_trash", "restore", "empty", "shutdown"):
            getattr(self, name).connect(getattr(worker, name))


class Trash(QObject):
    """The trash thread and dialog, tied together; follows the window's agent."""

    changed = Signal()  # passages came back or went for good: archival views should refresh
    agent_switched = Signal()  # another agent is shown: an Undo offered for the last one goes

    def __init__(self, runtime: Runtime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker = TrashWorker(runtime)
        self.requests = TrashRequests(self)
        self.requests.connect_to(self.worker)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("engram-trash")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.deleteLater)
        self.dialog = TrashDialog(parent)
        self.dialog.refresh_requested.connect(self.refresh)
        self.dialog.restore_requested.connect(self.restore)
        self.dialog.empty_requested.connect(self.empty)
        self.worker.listed.connect(self._on_listed)
        self.worker.restored.connect(self._on_restored)
        self.worker.emptied.connect(self._on_emptied)
        self.worker.error.connect(self._on_error)
        self.agent_id = ""
        self._pending = 0  # restores and purges asked for and not answered yet
        self._closed = False

    @property
    def running(self) -> bool:
        return self.worker_thread.isRunning()

    def _start(self) -> bool:
        if not self.running and not self._closed:
            self.worker_thread.start()
        return self.running and bool(self.agent_id)

    def follow(self, info: AgentInfo) -> None:
        """The window's agent (AgentWorker.agent_changed)."""
        if info.id == self.agent_id:
            return
        switched = bool(self.agent_id)
        self.agent_id = info.id
        if switched:
            self.agent_switched.emit()
        self.dialog.set_listing(None)
        self.dialog.show_note("")
        self.refresh_if_open()

    def open(self) -> None:
        """Show the dialog; showing it reads the trash."""
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()

    def refresh(self) -> None:
        if self._start():
            self.requests.list_trash.emit(self.agent_id)

    def refresh_if_open(self, *_: object) -> None:
        """Read the trash again if the dialog shows it (passages were just moved there)."""
        if self.dialog.isVisible():
            self.refresh()

    def restore(self, passage_ids: Sequence[str]) -> None:
        """Bring passages back (from the dialog, or the Archival tab's Undo)."""
        if passage_ids and self._start():
            self._ask()
            self.requests.restore.emit(self.agent_id, list(passage_ids))

    def empty(self) -> None:
        """Delete the agent's trash for good (the dialog has asked the user already)."""
        if self._start():
            self._ask()
            self.requests.empty.emit(self.agent_id)

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> None:
        """Let the work already asked for finish, then join the thread (idempotent)."""
        self._closed = True
        self.dialog.close()
        if not self.running:
            return
        self.requests.shutdown.emit()
        if not self.worker_thread.wait(timeout_ms):
            log.error("the trash thread did not stop in time")
            self.worker_thread.wait()

    def _ask(self) -> None:
        self._pending += 1
        self.dialog.set_busy(True)

    def _answered(self) -> None:
        self._pending = max(0, self._pending - 1)
        self.dialog.set_busy(self._pending > 0)

    def _on_listed(self, listing: TrashListing) -> None:
        if listing.agent_id == self.agent_id:
            self.dialog.set_listing(listing)

    def _on_restored(self, count: int) -> None:
        self._answered()
        self.dialog.show_note(f"Restored {plural(count, 'passage')} to archival memory.")
        self.changed.emit()

    def _on_emptied(self, count: int) -> None:
        self._answered()
        self.dialog.show_note(f"Deleted {plural(count, 'passage')} for good.")
        self.changed.emit()

    def _on_error(self, message: str) -> None:
        self._pending = 0
        self.dialog.set_busy(False)
        self.dialog.show_note(message)


def install_trash(window: MainWindow, runtime: Runtime) -> Trash:
    """Add the trash to the main window: the Archival tab's Trash… and Undo, lifecycle."""
    trash = Trash(runtime, window)
    archival = window.archival
    archival.trash_requested.connect(trash.open)
    archival.restore.connect(trash.restore)
    trash.changed.connect(archival.refresh)
    trash.changed.connect(window.worker.refresh_memory)  # the passage counts
    window.worker.agent_changed.connect(trash.follow)
    trash.agent_switched.connect(archival.forget_undo)
    window.library.passages_deleted.connect(trash.refresh_if_open)
    window.requests.shutdown.connect(trash.shutdown)
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(trash.shutdown)
    return trash
