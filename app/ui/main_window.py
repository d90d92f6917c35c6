"""The main window: agents on the left, the conversation in the middle, the inspector on the
right (Memory, Recall, Archival, Context), the model and a busy indicator in the status bar.

The window owns the worker's QThread. It asks the worker for things only through the queued
signals of `Requests`, and renders what the worker's signals report; `shutdown()` (also run by
`closeEvent`) stops the worker and joins its thread, so no QThread outlives the window.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Qt, QThread, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import Settings
from app.core import events as ev
from app.core.messages import AgentInfo, Page, Passage
from app.core.protocols import ChatBackend
from app.runtime import Runtime
from app.ui.agent_list import AgentList
from app.ui.banner import Banner
from app.ui.chat_view import ChatView
from app.ui.context_gauge import ContextPanel
from app.ui.describe import ArchivalResults, journal_day, journal_entry_id
from app.ui.documents import Documents
from app.ui.documents_panel import DocumentsPanel, dropped_paths
from app.ui.journal_dock import install_journal
from app.ui.library import LibraryWorker
from app.ui.memory_panel import MemoryPanel
from app.ui.search_panels import ArchivalPanel, RecallPanel
from app.ui.settings_dialog import ModelSettingsDialog
from app.ui.trash import install_trash
from app.ui.worker import AgentWorker

MODELS_README = Path(__file__).resolve().parents[2] / "models" / "README.md"
JOIN_TIMEOUT_MS = 30_000


class Requests(QObject):
    """What the window asks of the worker; each signal is connected (queued) to the worker slot
    of the same name."""

    start = Signal(str)
    send = Signal(str)
    stop = Signal()
    retry = Signal()
    edit_last_and_resend = Signal(str)
    set_block = Signal(str, str)
    undo = Signal(int)
    heartbeat = Signal()
    compact = Signal()
    switch_agent = Signal(str)
    create_agent = Signal(str, str)  # name, template
    rename_agent = Signal(str, str)
    delete_agent = Signal(str)
    search_recall = Signal(str, int)
    search_recall_dates = Signal(object, object, int)
    search_archival = Signal(str, int, str)  # query, page, source
    delete_passages = Signal(object)
    apply_settings = Signal(object, bool)
    settle_proposal = Signal(int, bool)
    draft = Signal(str)
    shutdown = Signal()

    NAMES = (
        "start send stop retry edit_last_and_resend set_block undo heartbeat compact draft "
        "switch_agent create_agent rename_agent delete_agent search_recall "
        "search_recall_dates search_archival delete_passages apply_settings settle_proposal "
        "shutdown"
    ).split()

    def connect_to(self, *workers: QObject) -> None:
        for name in self.NAMES:
            target = next(w for w in workers if hasattr(w, name))
            getattr(self, name).connect(getattr(target, name))


class MainWindow(QMainWindow):
    def __init__(
        self,
        runtime: Runtime,
        *,
        load: Callable[[], ChatBackend] | None = None,
        demo: bool = False,
        settings: QSettings | None = None,
        agent: str = "",
    ) -> None:
        super().__init__()
        self.setWindowTitle("Engram")
        self.settings = settings or QSettings(
            str(runtime.root / "ui.ini"), QSettings.Format.IniFormat
        )
        self.demo = demo
        self._settings_file = runtime.root / "settings.json"
        self._runtime = runtime
        self.settings_dialog: ModelSettingsDialog | None = None
        self.busy = False
        self.model_ready = False
        self._agent_name = agent or str(self.settings.value("last_agent", "") or "")
        self._started = self._closed = False
        self.requests = Requests(self)
        self.worker = AgentWorker(runtime, load)
        self.library = LibraryWorker(runtime)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("engram-agent")
        for obj in (self.worker, self.library):
            obj.moveToThread(self.worker_thread)
            self.worker_thread.finished.connect(obj.deleteLater)
        self.worker.agent_changed.connect(self.library.follow)
        self.library.passages_deleted.connect(self.worker.refresh_memory)
        self.requests.connect_to(self.worker, self.library)
        self._build_widgets()
        self._build_docks()
        self.documents = Documents(runtime, self.documents_panel, self)
        self.worker.agent_changed.connect(self.documents.worker.follow)
        self.documents.worker.changed.connect(self.worker.refresh_memory)
        self.documents.worker.error.connect(self.show_error)
        self.setAcceptDrops(True)
        self._build_status_bar()
        self._build_menus()
        self._connect_worker()
        self._restore()
        self.journal = install_journal(self, runtime)  # dock, Journal menu, Ctrl+Shift+J
        self.trash = install_trash(self, runtime)  # the Archival tab's Trash… and Undo

    # ---- construction --------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.chat = ChatView()
        self.chat.send_requested.connect(self.requests.send.emit)
        self.chat.stop_requested.connect(self.stop)
        self.chat.source_clicked.connect(self.show_source)
        self.chat.proposal_decided.connect(self.requests.settle_proposal.emit)
        self.chat.composer.retry_requested.connect(self.requests.retry.emit)
        self.chat.composer.edit_resend_requested.connect(self.requests.edit_last_and_resend.emit)
        self.chat.composer.draft_changed.connect(self.requests.draft.emit)
        self.demo_banner = Banner("demo model notice")
        self.demo_banner.dismissed.connect(lambda: self.settings.setValue("demo_dismissed", True))
        self.error_banner = Banner("error message")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.demo_banner)
        layout.addWidget(self.error_banner)
        layout.addWidget(self.chat, 1)
        self.setCentralWidget(central)

    def _build_docks(self) -> None:
        self.agents = AgentList()
        self.agents.selected.connect(self.requests.switch_agent.emit)
        self.agents.create.connect(self.requests.create_agent.emit)
        self.agents.rename.connect(self.requests.rename_agent.emit)
        self.agents.delete.connect(self.requests.delete_agent.emit)
        self.agents_dock = self._dock("Agents", self.agents, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.memory = MemoryPanel()
        self.memory.save_block.connect(self.requests.set_block.emit)
        self.memory.undo_edit.connect(self.requests.undo.emit)
        self.recall = RecallPanel()
        self.recall.search_text.connect(self.requests.search_recall.emit)
        self.recall.search_dates.connect(self.requests.search_recall_dates.emit)
        self.archival = ArchivalPanel()
        self.archival.search.connect(self.requests.search_archival.emit)
        self.archival.delete.connect(self.requests.delete_passages.emit)
        self.context = ContextPanel()
        self.context.compact_requested.connect(self.requests.compact.emit)
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Inspector")
        self.tabs.addTab(self.memory, "Memory")
        self.tabs.addTab(self.recall, "Recall")
        self.tabs.addTab(self.archival, "Archival")
        self.tabs.addTab(self.context, "Context")
        self.documents_panel = DocumentsPanel()
        self.tabs.addTab(self.documents_panel, "Documents")
        self.inspector_dock = self._dock(
            "Inspector", self.tabs, Qt.DockWidgetArea.RightDockWidgetArea
        )

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}_dock")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        self.model_label = QLabel("Loading the model…")
        self.model_label.setAccessibleName("Model")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(120)
        self.busy_bar.setMaximumHeight(14)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setAccessibleName("Working")
        self.busy_label = QLabel("")
        self.statusBar().addPermanentWidget(self.busy_label)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.statusBar().addPermanentWidget(self.model_label)
        self.busy_bar.hide()

    def _action(self, menu_name: str, text: str, slot: object, keys: str = "") -> QAction:
        menu = self._menus.get(menu_name) or self.menuBar().addMenu(menu_name)
        self._menus[menu_name] = menu
        action = QAction(text, self)
        if keys:
            action.setShortcut(QKeySequence(keys))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        self._menus: dict[str, QMenu] = {}
        self._action("&Agent", "&New agent", self.agents.new_agent, "Ctrl+N")
        self._action("&Agent", "&Rename agent", self.agents.rename_current, "F2")
        self.delete_action = self._action("&Agent", "&Delete agent…", self.agents.delete_current)
        self._action("&Agent", "&Quit", self.close, "Ctrl+Q")
        self.stop_action = self._action("&Conversation", "&Stop", self.stop, "Esc")
        self.stop_action.setEnabled(False)
        composer = self.chat.composer
        self.retry_action = self._action("&Conversation", "&Retry", self.requests.retry.emit)
        self._action("&Conversation", "&Edit last message", composer.edit)
        self._action("&Conversation", "&Copy last reply", composer.copy_last, "Ctrl+Shift+C")
        self._action("&Conversation", "&Wake the agent (heartbeat)", self.requests.heartbeat.emit)
        self._action("&Conversation", "Summari&ze now", self.requests.compact.emit)
        self._action("&View", "Focus the &message box", self.focus_input, "Ctrl+L")
        self._action("&View", "Search &archival memory", self.focus_archival_search, "Ctrl+F")
        self._action("&View", "&Memory", lambda: self.show_tab(self.memory))
        self._action("&View", "&Context", lambda: self.show_tab(self.context))
        self._action("&View", "&Documents", lambda: self.show_tab(self.documents_panel))
        self._action("&Agent", "Add &documents…", self.documents_panel.choose_files, "Ctrl+O")
        self._menus["&View"].addAction(self.agents_dock.toggleViewAction())
        self._menus["&View"].addAction(self.inspector_dock.toggleViewAction())
        self._action("&Model", "Model && &settings…", self.open_model_settings, "Ctrl+,")
        self._action("&Model", "How to add a &model", self.show_model_help)

    def _connect_worker(self) -> None:
        w = self.worker
        w.event.connect(self.on_event)
        w.busy.connect(self.set_busy)
        w.error.connect(self.show_error)
        w.usage.connect(self.context.set_usage)
        w.model_loaded.connect(self.on_model_loaded)
        w.model_failed.connect(self.on_model_failed)
        w.agents.connect(self.agents.set_agents)
        w.agent_changed.connect(self.on_agent_changed)
        w.transcript.connect(self.chat.load_transcript)
        w.memory.connect(self.memory.set_snapshot)
        w.sources.connect(self.chat.set_sources)
        self.library.recall_results.connect(self.recall.set_results)
        self.library.archival_results.connect(self.archival.set_results)
        self.library.error.connect(self.show_error)
        w.unsent.connect(self.chat.mark_unsent)

    def _restore(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
            self.resizeDocks(
                [self.agents_dock, self.inspector_dock], [190, 430], Qt.Orientation.Horizontal
            )
        state = self.settings.value("state")
        if state is not None:
            self.restoreState(state)
        self.tabs.setCurrentIndex(self.settings.value("tab", 0, type=int))  # type: ignore[arg-type]

    # ---- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the worker thread: it shows the stored agent, then loads the model."""
        if self._started:
            return
        self._started = True
        self.documents.start()
        self.worker_thread.start()
        self.requests.start.emit(self._agent_name)

    def shutdown(self) -> None:
        """Stop the worker and join its thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("state", self.saveState())
        self.settings.setValue("tab", self.tabs.currentIndex())
        self.settings.sync()
        self.documents.shutdown(JOIN_TIMEOUT_MS)
        # One thread at a time: two threads destroying connected QObjects at once can deadlock
        # PySide (one holds a Qt connection mutex and waits for the GIL, the other holds the
        # GIL and waits for that mutex; seen in the suite, gdb backtraces in both ~QObject).
        # So the journal and trash threads are joined before the agent's is asked to stop.
        self.journal.shutdown()
        self.trash.shutdown()
        if self.worker_thread.isRunning():
            self.worker.mark_closing()
            self.requests.shutdown.emit()
            if not self.worker_thread.wait(JOIN_TIMEOUT_MS):
                self.worker_thread.quit()
                self.worker_thread.wait()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        """Files or folders dropped anywhere on the window are ingested (Documents tab)."""
        paths = dropped_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_documents(paths)

    def add_documents(self, paths: list[str]) -> int:
        self.show_tab(self.documents_panel)
        return self.documents.add(paths)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ---- worker reports ------------------------------------------------------------------
    def on_event(self, event: ev.AgentEvent) -> None:
        self.chat.handle(event)
        if isinstance(event, ev.Evicted):
            self.context.note_eviction(event)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.chat.set_busy(busy)
        self.agents.set_busy(busy)
        self.archival.set_busy(busy)
        self.context.set_busy(busy)
        self.stop_action.setEnabled(busy)
        self.delete_action.setEnabled(not busy)
        self.retry_action.setEnabled(not busy)
        self.busy_bar.setVisible(busy)
        self.busy_label.setText("working…" if busy else "")

    def on_model_loaded(self, description: str) -> None:
        self.model_ready = True
        self.model_label.setText(description)
        self.model_label.setToolTip(description)
        self.chat.composer.set_ready(True)
        if self.demo and not self.settings.value("demo_dismissed", False, type=bool):
            self.show_model_help(demo=True)

    def on_agent_changed(self, info: AgentInfo) -> None:
        self.agents.set_current(info)
        self.setWindowTitle(f"{info.name} — Engram")
        self.settings.setValue("last_agent", info.name)

    def show_error(self, message: str) -> None:
        self.error_banner.show_message("Problem:", html.escape(message))
        self.statusBar().showMessage(message, 10_000)

    def on_model_failed(self, message: str) -> None:
        self.model_label.setText("No model loaded")
        self.model_label.setToolTip(message)

    def show_model_help(self, demo: bool = False) -> None:
        readme = MODELS_README.as_uri() if MODELS_README.exists() else ""
        link = f'<a href="{readme}">models/README.md</a>' if readme else "models/README.md"
        lead = (
            "This is the built-in demo model (SmolLM2-135M): it shows how Engram works, "
            "but its answers are not smart. "
            if demo
            else ""
        )
        self.demo_banner.show_message(
            "Demo model." if demo else "Models.",
            f"{lead}For real use, download a 3–14B instruct GGUF (e.g. Qwen2.5-7B-Instruct "
            "Q4_K_M) and choose it in <b>Model ▸ Model &amp; settings</b> (Ctrl+,), or start "
            f"Engram with <code>--model PATH.gguf</code>. See {link}.",
        )

    # ---- model & settings ----------------------------------------------------------------
    def open_model_settings(self) -> ModelSettingsDialog:
        """The non-modal Model & settings dialog (one at a time)."""
        if self.settings_dialog is None:
            dialog = ModelSettingsDialog(
                self._runtime.settings, self._runtime.root, self.model_label.text(), self
            )
            dialog.applied.connect(self.apply_settings)
            dialog.finished.connect(lambda _: setattr(self, "settings_dialog", None))
            self.settings_dialog = dialog
        self.settings_dialog.show()
        self.settings_dialog.raise_()
        return self.settings_dialog

    def apply_settings(self, settings: Settings, reload: bool) -> None:
        """Saved settings reach the worker; a reload shows 'Loading…' until it reports."""
        self.demo = settings.model_path is None
        if reload:
            self.model_ready = False
            self.model_label.setText("Loading the model…")
            self.chat.composer.set_ready(False)
            self.demo_banner.hide()
        self.requests.apply_settings.emit(settings, reload)

    # ---- user actions --------------------------------------------------------------------
    def stop(self) -> None:
        if not self.busy:
            return
        self.worker.cancel_now()  # thread-safe: the loop stops at its next token
        self.chat.begin_stop()
        self.requests.stop.emit()
        self.busy_label.setText("stopping…")

    def show_source(self, passage: Passage) -> None:
        """A cited passage, clicked in a reply: a journal passage opens the journal at its
        day (and entry); any other is shown whole in the Archival tab."""
        day = journal_day(passage)
        if day is not None:
            self.journal.open_entry(day, journal_entry_id(passage))
            return
        self.show_tab(self.archival)
        label = passage.location or "the cited passage"
        self.archival.set_results(ArchivalResults(label, Page((passage,), 1, 1, 1)))

    def focus_input(self) -> None:
        self.chat.input.setFocus()

    def focus_archival_search(self) -> None:
        self.show_tab(self.archival)
        self.archival.query.setFocus()
        self.archival.query.selectAll()

    def show_tab(self, widget: QWidget) -> None:
        self.inspector_dock.show()
        self.inspector_dock.raise_()
        self.tabs.setCurrentWidget(widget)
