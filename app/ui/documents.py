"""Ingesting documents without touching the agent's thread or the window's: `DocumentWorker`.

It lives in a QThread of its own ("engram-ingest"), so a 1,000-page PDF neither freezes the
window nor holds up the agent's reply; the archival store serialises its writes with a lock and
embeds outside it, so both threads can use it. Jobs run one after another in the order they were
asked for; each job is `app.ingest.pipeline.IngestJob` stepped to its end inside one slot, with
its progress sent to the window at most every PROGRESS_EVERY_S (and at every file boundary), so
a fast job cannot flood the UI thread with signals. Cancelling is a thread-safe flag the window
sets directly (`cancel()`); the pipeline checks it between batches and keeps a checkpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.core.errors import EngramError, InputError
from app.core.messages import AgentInfo
from app.runtime import Runtime
from app.ui.documents_panel import DocumentsPanel

if TYPE_CHECKING:
    from app.ingest.pipeline import DocumentArchive, IngestJob, IngestProgress
    from app.memory.sources_store import SourcesStore

log = logging.getLogger("engram.ui")

PROGRESS_EVERY_S = 0.1


class DocumentWorker(QObject):
    """Runs ingest jobs and library edits (remove, re-index) for the agent it follows."""

    job_progress = Signal(int, object)  # job id, IngestProgress
    job_finished = Signal(int, object)  # job id, the last IngestProgress (None: never started)
    sources = Signal(object)  # list[Source] of the followed agent
    changed = Signal()  # archival memory changed (passages added or removed)
    error = Signal(str)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime
        self._agent_id = ""
        self._store: SourcesStore | None = None
        self._cancels: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    # ---- called from the GUI thread ------------------------------------------------------
    def cancel(self, job_id: int) -> None:
        """Thread-safe: the job stops at its next batch boundary (or never starts)."""
        with self._lock:
            self._cancels.setdefault(job_id, threading.Event()).set()

    def cancel_all(self) -> None:
        """Thread-safe: every queued and running job stops (the window is closing)."""
        with self._lock:
            for flag in self._cancels.values():
                flag.set()
            self._cancels.setdefault(-1, threading.Event()).set()

    def _flag(self, job_id: int) -> threading.Event:
        with self._lock:
            flag = self._cancels.setdefault(job_id, threading.Event())
            if -1 in self._cancels:  # closing: whatever comes now is cancelled
                flag.set()
            return flag

    # ---- in the worker thread ------------------------------------------------------------
    @Slot(object)
    def follow(self, info: AgentInfo) -> None:
        """The agent whose library is shown and ingested into (AgentWorker.agent_changed)."""
        self._agent_id = info.id
        self.refresh()

    @Slot()
    def warm_up(self) -> None:
        """Open the archival store and load the embedder now, in this thread, so the first
        drop starts at once (importing torch and loading MiniLM take seconds)."""
        try:
            self._runtime.archival.search(self._agent_id or "-", "warm up", page_size=1)
        except EngramError as err:  # an empty store may not answer yet; ingest will tell
            log.info("warming the archival store: %s", err.user_message)

    @Slot()
    def refresh(self) -> None:
        if not self._agent_id:
            return
        try:
            self.sources.emit(self._library().list(self._agent_id))
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(int, object)
    def ingest(self, job_id: int, paths: Sequence[str]) -> None:
        """Ingest files and folders (recursively) into the followed agent's archival memory."""
        self._run(job_id, [Path(p) for p in paths], force=False)

    @Slot(int, int)
    def reindex(self, job_id: int, source_id: int) -> None:
        """Read one document again from the start (its old passages are replaced)."""
        try:
            source = self._library().require(source_id)
            if not Path(source.path).exists():
                raise InputError(f"{source.path} no longer exists; remove it instead.")
        except EngramError as err:
            self.error.emit(err.user_message)
            self.job_finished.emit(job_id, None)
            return
        self._run(job_id, [Path(source.path)], force=True)

    @Slot(int)
    def remove(self, source_id: int) -> None:
        """Delete a document's passages, then the document from the library."""
        from app.ingest.pipeline import remove_source

        try:
            remove_source(self._archive(), self._library(), source_id)
        except EngramError as err:
            self.error.emit(err.user_message)
        self.changed.emit()
        self.refresh()

    @Slot()
    def shutdown(self) -> None:
        """Close the library and end this thread's event loop (the window then joins it)."""
        if self._store is not None:
            self._store.close()
            self._store = None
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    # ---- jobs ----------------------------------------------------------------------------
    def _run(self, job_id: int, paths: list[Path], *, force: bool) -> None:
        from app.ingest.pipeline import IngestJob

        flag = self._flag(job_id)
        last: IngestProgress | None = None
        try:
            if not self._agent_id:
                raise InputError("No agent is selected.")
            job = IngestJob(
                paths,
                self._agent_id,
                self._archive(),
                self._library(),
                cancel=flag.is_set,
                force=force,
            )
            last = self._drive(job_id, job)
        except EngramError as err:
            self.error.emit(err.user_message)
        except Exception as err:  # a bug must not kill the thread; say it and go on
            log.exception("ingest job %d failed", job_id)
            self.error.emit(f"Ingesting failed: {type(err).__name__}: {err}")
        finally:
            with self._lock:
                self._cancels.pop(job_id, None)
        self.job_finished.emit(job_id, last)
        self.changed.emit()
        self.refresh()

    def _drive(self, job_id: int, job: IngestJob) -> IngestProgress | None:
        """Step the job to its end, sending throttled progress; the last progress."""
        last: IngestProgress | None = None
        sent_at, sent_files = 0.0, -1
        for progress in job.run():
            last = progress
            now = time.monotonic()
            if progress.files_done != sent_files or now - sent_at >= PROGRESS_EVERY_S:
                self.job_progress.emit(job_id, progress)
                sent_at, sent_files = now, progress.files_done
        return last

    def _library(self) -> SourcesStore:
        if self._store is None:
            from app.memory.sources_store import SourcesStore

            self._store = SourcesStore(self._runtime.root / "engram.db")
        return self._store

    def _archive(self) -> DocumentArchive:
        archival = self._runtime.archival
        if not hasattr(archival, "insert_passages") or not hasattr(archival, "purge_deleted"):
            raise InputError("This archival store cannot hold documents.")
        return cast("DocumentArchive", archival)


class DocumentRequests(QObject):
    """What the window asks of the DocumentWorker (queued into its thread)."""

    ingest = Signal(int, object)
    reindex = Signal(int, int)
    remove = Signal(int)
    refresh = Signal()
    warm_up = Signal()
    shutdown = Signal()

    def connect_to(self, worker: DocumentWorker) -> None:
        for name in ("ingest", "reindex", "remove", "refresh", "warm_up", "shutdown"):
            getattr(self, name).connect(getattr(worker, name))


class Documents(QObject):
    """The window's side of ingesting: owns the worker's thread, numbers the jobs, and ties the
    DocumentsPanel to the worker. `start()` and `shutdown()` follow the window's lifecycle;
    shutdown cancels every job (each keeps its checkpoint) and joins the thread."""

    def __init__(self, runtime: Runtime, panel: DocumentsPanel, parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.worker = DocumentWorker(runtime)
        self.requests = DocumentRequests(self)
        self.requests.connect_to(self.worker)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("engram-ingest")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.finished.connect(self.worker.deleteLater)
        self._next_job = 0
        panel.add.connect(self.add)
        panel.cancel.connect(self.cancel)
        panel.remove.connect(self.requests.remove.emit)
        panel.reindex.connect(self.reindex)
        self.worker.job_progress.connect(panel.show_progress)
        self.worker.job_finished.connect(panel.finish_job)
        self.worker.sources.connect(panel.set_sources)

    def start(self) -> None:
        """Start the thread and load the embedder there while the model loads (the first
        drop then starts at once, and torch's import does not land in the middle of a reply)."""
        if not self.worker_thread.isRunning():
            self.worker_thread.start()
            self.requests.warm_up.emit()

    def add(self, paths: Sequence[str]) -> int:
        """Queue an ingest of `paths`; the job's id (its row shows at once)."""
        self._next_job += 1
        names = [Path(p).name or p for p in paths]
        label = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        self.panel.add_job(self._next_job, label)
        self.requests.ingest.emit(self._next_job, list(paths))
        return self._next_job

    def cancel(self, job_id: int) -> None:
        """Called here, not queued: a queued call would wait for the job it should stop."""
        self.worker.cancel(job_id)

    def reindex(self, source_id: int) -> None:
        self._next_job += 1
        self.panel.add_job(self._next_job, f"re-index #{source_id}")
        self.requests.reindex.emit(self._next_job, source_id)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        if not self.worker_thread.isRunning():
            return
        self.worker.cancel_all()
        self.requests.shutdown.emit()  # after the queued jobs, which end at once (cancelled)
        if not self.worker_thread.wait(timeout_ms):
            log.error("the ingest thread did not stop in time")
            self.worker_thread.wait()
