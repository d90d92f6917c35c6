"""Autosave survives a crash: a real journal view in a child process types an entry, nothing
but the autosave timer saves it, and the process is SIGKILLed the moment the worker reports
the save. The text must be on disk afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.memory.journal_store import JournalStore

TEXT = "Typed, never closed, killed: still here."

CHILD = """
import os, signal, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from datetime import UTC, datetime
from pathlib import Path
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from app.config import Settings
from app.core.bootstrap import create_agent
from app.core.clock import ManualClock
from app.memory.sqlite_store import SqliteStore
from app.runtime import Runtime
from app.ui.journal_dock import Journal
from tests.fakes import InMemoryArchival

TEXT = sys.argv[2]
app = QApplication([])
root = Path(sys.argv[1])
clock = ManualClock(datetime(2026, 3, 14, 12, tzinfo=UTC))
rt = Runtime(root, Settings(), SqliteStore(root / "engram.db"), InMemoryArchival(), clock)
journal = Journal(rt)
journal.view.show()

class Script(QObject):
    typed = False

    @Slot(object)
    def loaded(self, _data):
        if self.typed:
            return
        self.typed = True
        editor = journal.view.editor
        editor.text.setFocus()
        QTest.keyClicks(editor.text, TEXT)  # no flush, no focus-out: only the timer saves

    @Slot(int, object)
    def saved(self, _token, entry):
        if entry.text == TEXT:
            print(entry.id, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

script = Script()
journal.worker.look_back.connect(script.loaded)
journal.worker.saved.connect(script.saved)
journal.follow(create_agent(rt.recall, clock, "engram"))
QTimer.singleShot(60_000, app.quit)
app.exec()
"""


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_autosave_in_the_view_survives_sigkill(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), TEXT],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with JournalStore(tmp_path / "engram.db") as store:
        entry = store.get(int(done.stdout))
        assert entry is not None and entry.text == TEXT
        assert [e.text for e in store.all_entries()] == [TEXT]
