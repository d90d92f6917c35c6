"""Opening the data dir for the window without waiting for LanceDB.

Importing lancedb takes 1–2 s on a 2-core machine, longer than the whole budget for showing the
window (1.5 s). `open_stores_deferred` opens what the window needs at once (settings, the
SQLite store) and hands the Runtime a `DeferredArchival` that imports and opens the LanceDB
store on first use, which happens in a worker thread right after the window is shown. It opens
exactly what `app.runtime.open_stores` opens; only the moment differs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget

from app.config import Settings, data_dir, set_offline_switches
from app.runtime import Runtime


class DeferredArchival:
    """Stands for the archival store; opens it (once, under a lock) on first use."""

    def __init__(self, open_store: Callable[[], Any]) -> None:
        self._open_store = open_store
        self._store: Any = None
        self._lock = threading.Lock()

    def opened(self) -> Any:
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def __getattr__(self, name: str) -> Any:  # only for names this class does not define
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.opened(), name)


class _OnFirstPaint(QObject):
    """Runs `then` at the widget's first paint, or after FALLBACK_MS if it never paints
    (a window started minimised)."""

    FALLBACK_MS = 1000

    def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
        super().__init__(widget)
        self._then: Callable[[], None] | None = then
        QTimer.singleShot(self.FALLBACK_MS, self, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self, self._fire)  # after this paint has been drawn
        return False

    def _fire(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            then()


def start_after_first_paint(widget: QWidget, start: Callable[[], None]) -> None:
    """Call `start` once `widget` has painted: the workers' imports (LanceDB, llama.cpp, torch)
    then compete with nothing for the interpreter while the window first draws."""
    widget.installEventFilter(_OnFirstPaint(widget, start))


def _open_lance(root: Path) -> Any:
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import MiniLMEmbedder

    return LanceArchivalStore(root / "archival", MiniLMEmbedder())


def open_stores_deferred(root: Path | None = None) -> Runtime:
    """Settings and the SQLite store now; the LanceDB archival store on first use."""
    set_offline_switches()
    from app.memory.sqlite_store import SqliteStore

    root = root or data_dir()
    settings = Settings.load(root)
    recall = SqliteStore(root / "engram.db")
    archival = DeferredArchival(lambda: _open_lance(root))
    return Runtime(root, settings, recall, archival)
