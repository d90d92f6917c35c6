"""The Documents tab: add files or folders, watch each ingest job, and keep the library tidy.

Every job gets a row: a progress bar, "3 of 10 files · 412 chunks · about 0:12 left", Cancel,
and the files that failed with their reasons. Below, the library of the agent's documents with
Remove and Re-index. The widgets only ask (`add`, `cancel`, `remove`, `reindex` signals) and
show what the DocumentWorker reports; nothing here reads a file or waits for one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.bubbles import dim_label
from app.ui.describe import plural, stamp

if TYPE_CHECKING:  # the pipeline pulls in LanceDB: not at window start
    from app.ingest.pipeline import IngestProgress
    from app.memory.sources_store import Source

SOURCE_ID = Qt.ItemDataRole.UserRole
FILE_FILTER = "Documents (*.txt *.md *.markdown *.pdf *.docx *.html *.htm);;All files (*)"


def dropped_paths(mime: QMimeData) -> list[str]:
    """The local files and folders in a drag (web links and text are not documents)."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(p: IngestProgress) -> str:
    """'3 of 10 files · 412 chunks · about 0:12 left' (or how it ended)."""
    parts = [f"{p.files_done} of {plural(p.files_total, 'file')}", plural(p.chunks_done, "chunk")]
    if p.cancelled:
        parts.append("cancelled; adding the same files again carries on")
    elif p.finished:
        done = p.files_done - p.files_skipped - len(p.errors)
        parts.append(f"done: {done} added, {p.files_skipped} unchanged, {len(p.errors)} failed")
    elif p.eta_seconds is not None:
        parts.append(f"about {duration(p.eta_seconds)} left")
    if p.current_file and not p.finished:
        parts.append(Path(p.current_file).name)
    return " · ".join(parts)


class JobRow(QFrame):
    """One ingest job: what it reads, a bar, a status line, Cancel, and failed files."""

    cancel_requested = Signal(int)

    def __init__(self, job_id: int, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job_id
        self.percent = 0
        self.finished = False
        self._began = time.monotonic()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(label)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setAccessibleName(f"Progress of {label}")
        self.status = dim_label("waiting to start…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName(f"Cancel adding {label}")
        self.cancel_button.clicked.connect(self._cancel)
        self.errors = QListWidget()
        self.errors.setAccessibleName(f"Files that failed in {label}")
        self.errors.setWordWrap(True)
        self.errors.setMaximumHeight(90)
        self.errors.hide()
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        layout.addWidget(self.errors)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("cancelling…")
        self.cancel_requested.emit(self.job_id)

    def show_progress(self, p: IngestProgress) -> None:
        self.set_percent(self._fraction(p))
        self.status.setText(progress_line(p))
        self._show_errors(p.errors)

    def _fraction(self, p: IngestProgress) -> float:
        """Files done, or (better inside one big file) time spent / time spent + time left."""
        by_files = p.files_done / p.files_total if p.files_total else 0.0
        if p.eta_seconds is None:
            return by_files
        spent = time.monotonic() - self._began
        by_time = spent / (spent + p.eta_seconds) if spent + p.eta_seconds > 0 else 0.0
        return max(by_files, min(by_time, 0.99))

    def set_percent(self, fraction: float) -> None:
        self.percent = max(self.percent, round(100 * min(max(fraction, 0.0), 1.0)))
        self.bar.setValue(self.percent)

    def _show_errors(self, errors: Sequence[tuple[str, str]]) -> None:
        for path, message in errors[self.errors.count() :]:
            self.errors.addItem(f"{Path(path).name}: {message}")
            self.errors.item(self.errors.count() - 1).setToolTip(path)
        self.errors.setVisible(self.errors.count() > 0)

    def finish(self, last: IngestProgress | None) -> None:
        self.finished = True
        self.cancel_button.setText("Clear")
        self.cancel_button.setAccessibleName(f"Clear {self.title.text()}")
        self.cancel_button.setEnabled(True)
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self.deleteLater)
        if last is None:
            self.status.setText("did not run")
            return
        if last.finished and not last.cancelled:
            self.set_percent(1.0)
        self.status.setText(progress_line(last))
        self._show_errors(last.errors)


class DocumentsPanel(QWidget):
    """Add documents, the running jobs, and the library of the current agent."""

    add = Signal(object)  # list[str] of paths
    cancel = Signal(int)  # job id
    remove = Signal(int)  # source id
    reindex = Signal(int)  # source id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs: dict[int, JobRow] = {}
        intro = dim_label(
            "Drop files or folders anywhere on the window, or add them here: txt, md, pdf, "
            "docx, html. They become passages of this agent's archival memory."
        )
        self.add_files = QPushButton("Add files…")
        self.add_files.setAccessibleName("Add files")
        self.add_files.clicked.connect(self.choose_files)
        self.add_folder = QPushButton("Add folder…")
        self.add_folder.setAccessibleName("Add folder")
        self.add_folder.clicked.connect(self.choose_folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_files)
        buttons.addWidget(self.add_folder)
        buttons.addStretch(1)
        self.jobs_box = QVBoxLayout()
        self.jobs_box.setSpacing(4)
        self.library = self._library_tree()
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the document and its passages from memory")
        self.remove_button.clicked.connect(lambda: self._on_selected(self.remove))
        self.reindex_button = QPushButton("Re-index")
        self.reindex_button.setToolTip("Read the document again from the start")
        self.reindex_button.clicked.connect(lambda: self._on_selected(self.reindex))
        self.summary = dim_label(wrap=False)
        actions = QHBoxLayout()
        actions.addWidget(self.summary, 1)
        actions.addWidget(self.reindex_button)
        actions.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addLayout(self.jobs_box)
        layout.addWidget(QLabel("Library"))
        layout.addWidget(self.library, 1)
        layout.addLayout(actions)
        self._sync_buttons()

    def _library_tree(self) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setAccessibleName("Document library")
        tree.setHeaderLabels(["Document", "Status", "Chunks", "Updated"])
        tree.setRootIsDecorated(False)
        tree.setAlternatingRowColors(True)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        tree.itemSelectionChanged.connect(self._sync_buttons)
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        return tree

    # ---- asking --------------------------------------------------------------------------
    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add documents", "", FILE_FILTER)
        if files:
            self.add.emit(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of documents")
        if folder:
            self.add.emit([folder])

    def _on_selected(self, signal: SignalInstance) -> None:
        for item in self.library.selectedItems():
            signal.emit(int(item.data(0, SOURCE_ID)))

    def _sync_buttons(self) -> None:
        chosen = bool(self.library.selectedItems())
        self.remove_button.setEnabled(chosen)
        self.reindex_button.setEnabled(chosen)

    # ---- showing -------------------------------------------------------------------------
    def add_job(self, job_id: int, label: str) -> JobRow:
        row = JobRow(job_id, label)
        row.cancel_requested.connect(self.cancel.emit)
        row.destroyed.connect(lambda: self.jobs.pop(job_id, None))
        self.jobs[job_id] = row
        self.jobs_box.addWidget(row)
        return row

    def show_progress(self, job_id: int, progress: IngestProgress) -> None:
        row = self.jobs.get(job_id)
        if row is not None:
            row.show_progress(progress)

    def finish_job(self, job_id: int, last: IngestProgress | None) -> None:
        row = self.jobs.get(job_id)
        if row is not None:
            row.finish(last)

    def running(self) -> int:
        return sum(1 for row in self.jobs.values() if not row.finished)

    def set_sources(self, sources: Sequence[Source]) -> None:
        self.library.clear()
        for s in sources:
            chunks = f"{s.chunks_done}" + (f"/{s.chunks_total}" if s.chunks_total else "")
            item = QTreeWidgetItem([s.name, s.status, chunks, stamp(s.updated_at)])
            item.setData(0, SOURCE_ID, s.id)
            item.setToolTip(0, s.path)
            if s.error:
                item.setToolTip(1, s.error)
            self.library.addTopLevelItem(item)
        passages = sum(s.chunks_done for s in sources)
        self.summary.setText(
            f"{plural(len(sources), 'document')}, {plural(passages, 'passage')}"
            if sources
            else "No documents yet."
        )
        self._sync_buttons()
