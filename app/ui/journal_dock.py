"""The journal in the main window: its thread, its dock, its menu and quick capture.

`install_journal(window, runtime)` is the one call the main window makes. It adds a "Journal"
dock (floating and hidden until opened with Ctrl+J), a Journal menu, and the quick-capture
shortcut Ctrl+Shift+J, which works anywhere in the app and adds a paragraph to today's entry.

`Journal` owns the worker's QThread ("engram-journal"). The thread starts when the window's
agent worker names its agent (so a window that is never started never starts it) and is
joined when the window shuts down (it listens to the window's shutdown request): the editor's
pending text is saved first, then the worker indexes what is left and stops.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtGui import QAction, QKeySequence, QTextCursor
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.messages import AgentInfo
from app.runtime import Runtime
from app.ui.journal_view import JournalView
from app.ui.journal_worker import JournalRequests, JournalWorker

if TYPE_CHECKING:
    from app.ui.worker import AgentWorker

log = logging.getLogger("engram.ui")

OPEN_KEYS = "Ctrl+J"
CAPTURE_KEYS = "Ctrl+Shift+J"
JOIN_TIMEOUT_MS = 30_000


class Journal(QObject):
    """The journal's worker thread and view, tied together."""

    def __init__(self, runtime: Runtime, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.worker = JournalWorker(runtime)
        self.requests = JournalRequests(self)
        self.requests.connect_to(self.worker)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("engram-journal")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.deleteLater)
        self.view = JournalView(self.requests, lambda: runtime.clock.now().date())
        w, v = self.worker, self.view
        w.month.connect(v.set_month)
        w.day.connect(v.set_day)
        w.saved.connect(v.on_saved)
        w.created.connect(v.on_created)
        w.entry_changed.connect(v.on_changed)
        w.results.connect(v.search.set_results)
        w.look_back.connect(v.look_back.set_data)
        w.message.connect(v.show_notice)
        w.error.connect(v.show_notice)
        w.imported.connect(v.on_imported)
        v.editor.set_follow_ups(runtime.settings.journal_follow_ups)
        self._closed = False
        self.dock: QDockWidget | None = None
        self.quick_capture: QuickCapture | None = None

    @property
    def running(self) -> bool:
        return self.worker_thread.isRunning()

    def start(self) -> None:
        if self.running or self._closed:
            return
        self.worker_thread.start()
        self.view.load()

    def follow(self, info: AgentInfo) -> None:
        """The window's agent: the journal indexes into its archival memory."""
        self.start()
        if self.running:
            self.requests.follow.emit(info)

    def connect_agent(self, agent: AgentWorker) -> None:
        """Reviews and follow-up questions are the agent worker's (it owns the model): ask it
        through queued connections, and show what it reports. A follow-up request goes
        through the journal worker first, so the entry's queued saves are on disk."""
        v = self.view
        v.review_requested.connect(agent.write_review)
        self.worker.reflect_ready.connect(agent.follow_up)
        agent.review_written.connect(v.on_review_written)
        agent.follow_up_ready.connect(v.editor.show_question)
        agent.journal_failed.connect(v.on_reflection_failed)

    def open_entry(self, day: date, entry_id: int = 0) -> None:
        """Show the journal at a day (and entry): a clicked journal citation."""
        self.start()
        if self.dock is not None:
            self.dock.show()
            self.dock.raise_()
        self.view.open_entry(day, entry_id)

    def capture(self, text: str) -> None:
        """Quick capture: into the editor when it shows today's last entry (or today's new
        draft), else straight into today's entry through the worker."""
        if not text.strip():
            return
        self.start()
        view, today = self.view, self.runtime.clock.now().date()
        ed = view.editor
        last = max((e for e in view.entries.values() if e.day == today), default=None,
                   key=lambda e: e.position)  # fmt: skip
        if ed.day == today and view.selected == today and ed.entry_id == (last.id if last else 0):
            ed.append(text)
        else:
            self.requests.capture.emit(text)

    def export(self, kind: str, target: str) -> None:
        """Export every entry: kind "markdown" (into an empty folder) or "json" (one file)."""
        self.start()
        self.view.editor.flush()
        self.requests.export.emit(kind, target)

    def import_from(self, source: str) -> None:
        """Import a folder of Markdown files or an Engram JSON export."""
        self.start()
        self.view.editor.flush()
        self.requests.import_from.emit(source)

    def shutdown(self, timeout_ms: int = JOIN_TIMEOUT_MS) -> None:
        """Save what the editor holds, let the worker index and close, join the thread."""
        self._closed = True
        if not self.running:
            self.view.closed = True
            return
        self.view.editor.flush()
        self.requests.shutdown.emit()
        if not self.worker_thread.wait(timeout_ms):
            log.error("the journal thread did not stop in time")
            self.worker_thread.wait()
        self.view.closed = True


class QuickCapture(QDialog):
    """A small note box; Ctrl+Enter (or "Add") puts the note into today's journal entry."""

    captured = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quick capture — today's journal")
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Quick note")
        self.text.setPlaceholderText("A thought for today's journal… (Ctrl+Enter adds it)")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.add_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.add_button.setText("Add to today")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        add = QAction(self)
        add.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        add.triggered.connect(self.accept)
        self.addAction(add)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Added as a new paragraph to today's entry."))
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.resize(460, 220)

    def open_blank(self) -> None:
        self.text.clear()
        self.show()
        self.raise_()
        self.activateWindow()
        self.text.setFocus()

    def accept(self) -> None:
        text = self.text.toPlainText()
        super().accept()
        if text.strip():
            self.captured.emit(text)


def answer_in_chat(chat: QWidget, question: str) -> None:
    """Put a follow-up question into the chat's message box, ready to be answered."""
    box = getattr(chat, "input", None)
    if isinstance(box, QPlainTextEdit):
        box.setPlainText(f'About my journal entry, you asked: "{question}"\n')
        box.moveCursor(QTextCursor.MoveOperation.End)
        box.window().activateWindow()
        box.setFocus()


def _ask_export(journal: Journal, parent: QWidget, kind: str) -> None:
    if kind == "markdown":
        target = QFileDialog.getExistingDirectory(parent, "Export the journal into an empty folder")
    else:
        target, _ = QFileDialog.getSaveFileName(
            parent, "Export the journal", "journal.json", "JSON (*.json)"
        )
    if target:
        journal.export(kind, target)
        _show(journal)


def _ask_import(journal: Journal, parent: QWidget, *, folder: bool) -> None:
    if folder:
        source = QFileDialog.getExistingDirectory(parent, "Import a folder of Markdown notes")
    else:
        source, _ = QFileDialog.getOpenFileName(
            parent, "Import an Engram journal export", "", "JSON (*.json)"
        )
    if source:
        journal.import_from(source)
        _show(journal)


def _show(journal: Journal) -> None:
    if journal.dock is not None:
        journal.dock.show()
        journal.dock.raise_()


def install_journal(window: QMainWindow, runtime: Runtime) -> Journal:
    """Add the journal to the main window: dock, menu, shortcuts, lifecycle."""
    journal = Journal(runtime, window)
    dock = QDockWidget("Journal", window)
    dock.setObjectName("journal_dock")
    dock.setWidget(journal.view)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.setFloating(True)
    dock.resize(1240, 760)
    dock.hide()
    journal.dock = dock
    capture = QuickCapture(window)
    capture.captured.connect(journal.capture)
    journal.quick_capture = capture

    def open_journal() -> None:
        journal.start()
        dock.show()
        dock.raise_()
        journal.view.editor.text.setFocus()

    bar = window.menuBar()
    menu = QMenu("&Journal", bar)
    help_menu = next((a for a in bar.actions() if a.text() == "&Help"), None)
    bar.insertMenu(help_menu, menu) if help_menu is not None else bar.addMenu(menu)
    for text, slot, keys in (
        ("&Open the journal", open_journal, OPEN_KEYS),
        ("&Quick capture…", capture.open_blank, CAPTURE_KEYS),
        ("Export to &Markdown…", lambda: _ask_export(journal, window, "markdown"), ""),
        ("Export to &JSON…", lambda: _ask_export(journal, window, "json"), ""),
        ("&Import Markdown folder…", lambda: _ask_import(journal, window, folder=True), ""),
        ("Import JSO&N export…", lambda: _ask_import(journal, window, folder=False), ""),
    ):
        action = QAction(text, window)
        if keys:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
            window.addAction(action)
        action.triggered.connect(slot)
        menu.addAction(action)
    worker = getattr(window, "worker", None)
    if worker is not None:
        worker.agent_changed.connect(journal.follow)
        journal.connect_agent(worker)
    requests = getattr(window, "requests", None)
    if requests is not None:  # the window's shutdown asks its worker to stop: so do we
        requests.shutdown.connect(journal.shutdown)
        requests.apply_settings.connect(
            lambda new, _reload: journal.view.editor.set_follow_ups(new.journal_follow_ups)
        )
    chat = getattr(window, "chat", None)
    if chat is not None:
        journal.view.editor.answer_requested.connect(lambda q: answer_in_chat(chat, q))
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(journal.shutdown)
    return journal
