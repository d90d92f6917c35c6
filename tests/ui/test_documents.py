"""The Documents tab: drop or add files, a progress bar per job, cancel, failures, the library.

The ingest runs in its own thread through the real pipeline and SQLite library; the fast tests
store passages in a word-overlap fake, the `embed` one in real LanceDB with the real MiniLM.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.messages import Passage
from app.ingest.pipeline import IngestProgress
from app.memory.archival import NewPassage
from app.ui.documents_panel import JobRow, dropped_paths, progress_line
from app.ui.main_window import MainWindow
from tests.fakes import InMemoryArchival

TEXT = "\n\n".join(f"Paragraph {i} about pottery studios in Lisbon." for i in range(40))


class DocumentArchival(InMemoryArchival):
    """The fake archive plus what the ingest pipeline needs of it."""

    def insert_passages(
        self,
        agent_id: str,
        passages: Sequence[NewPassage],
        *,
        source: str = "agent",
        tags: Sequence[str] = (),
    ) -> list[str]:
        ids = []
        for p in passages:
            pid = p.id or uuid.uuid4().hex
            when = datetime.now().astimezone()
            passage = Passage(pid, p.text, when, source, tuple(tags), p.location)
            self.rows.append((agent_id, passage))
            ids.append(pid)
        return ids

    def purge_deleted(self, agent_id: str) -> int:
        return 0


def two_files(folder: Path) -> list[str]:
    folder.mkdir()
    (folder / "notes.md").write_text("# Maya\n\n" + TEXT, encoding="utf-8")
    (folder / "trip.txt").write_text("Trip plan.\n\n" + TEXT, encoding="utf-8")
    return [str(folder / "notes.md"), str(folder / "trip.txt")]


def finished(win: MainWindow, job: int) -> bool:
    row = win.documents_panel.jobs.get(job)
    return row is not None and row.finished


def test_progress_line_wording() -> None:
    running = IngestProgress(1, 3, 12, "/tmp/a/b.pdf", 75.0)
    assert progress_line(running) == "1 of 3 files · 12 chunks · about 1:15 left · b.pdf"
    done = IngestProgress(3, 3, 40, "", 0.0, errors=(("x", "bad"),), files_skipped=1, finished=True)
    assert progress_line(done).endswith("done: 1 added, 1 unchanged, 1 failed")


def test_dropped_paths_keeps_local_files_only(tmp_path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path)), QUrl("https://example.org/x.pdf")])
    assert dropped_paths(mime) == [str(tmp_path)]
    text = QMimeData()
    text.setText("just text")
    assert dropped_paths(text) == []


def test_drop_two_files_ingests_them_with_progress_and_a_library(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.worker._runtime.archival = DocumentArchival()  # the one Runtime both workers share
    paths = two_files(tmp_path / "docs")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target = window.chat.input  # dropped on the message box: still ingested, not pasted
    enter = QDragEnterEvent(QPointF(20, 20), *args)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(QPointF(20, 20), *args))
    assert window.chat.input.toPlainText() == ""
    assert window.tabs.currentWidget() is window.documents_panel
    [job] = list(window.documents_panel.jobs)
    qtbot.waitUntil(lambda: finished(window, job), timeout=20_000)
    row = window.documents_panel.jobs[job]
    assert row.bar.value() == 100
    assert "2 of 2 files" in row.status.text() and "2 added" in row.status.text()
    library = window.documents_panel.library
    qtbot.waitUntil(lambda: library.topLevelItemCount() == 2, timeout=5000)
    assert {library.topLevelItem(i).text(1) for i in range(2)} == {"done"}
    counts = window.memory.counts
    qtbot.waitUntil(lambda: "archival" in counts.text() and " 0 passages" not in counts.text())


def test_failed_file_is_listed_and_remove_empties_the_library(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    archive = DocumentArchival()
    window.documents.worker._runtime.archival = archive
    good = tmp_path / "good.txt"
    good.write_text(TEXT, encoding="utf-8")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    job = window.add_documents([str(good), str(bad)])
    qtbot.waitUntil(lambda: finished(window, job), timeout=20_000)
    row = window.documents_panel.jobs[job]
    assert row.errors.isVisible() or row.errors.count() == 1
    assert row.errors.count() == 1 and row.errors.item(0).text().startswith("broken.pdf: ")
    assert "1 failed" in row.status.text()
    library = window.documents_panel.library
    qtbot.waitUntil(lambda: library.topLevelItemCount() == 2, timeout=5000)
    assert archive.rows
    for i in range(library.topLevelItemCount()):
        library.topLevelItem(i).setSelected(True)
    window.documents_panel.remove_button.click()
    qtbot.waitUntil(lambda: library.topLevelItemCount() == 0, timeout=5000)
    assert archive.rows == []
    assert window.documents_panel.summary.text() == "No documents yet."


def test_cancel_stops_a_job_between_batches(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    class SlowArchival(DocumentArchival):
        def insert_passages(self, *args: object, **kwargs: object) -> list[str]:
            __import__("time").sleep(0.05)
            return super().insert_passages(*args, **kwargs)  # type: ignore[arg-type]

    window.documents.worker._runtime.archival = SlowArchival()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(30):
        (folder / f"n{i}.txt").write_text(f"Note {i}.\n\n" + TEXT, encoding="utf-8")
    job = window.add_documents([str(folder)])
    row = window.documents_panel.jobs[job]
    qtbot.waitUntil(lambda: "of 30 files" in row.status.text(), timeout=10_000)
    row.cancel_button.click()
    qtbot.waitUntil(lambda: finished(window, job), timeout=20_000)
    assert "cancelled" in row.status.text() and row.bar.value() < 100
    assert row.cancel_button.text() == "Clear"
    row.cancel_button.click()
    qtbot.waitUntil(lambda: job not in window.documents_panel.jobs, timeout=3000)


def test_job_row_bar_never_goes_back(qtbot: QtBot) -> None:
    row = JobRow(1, "x")
    qtbot.addWidget(row)
    row.set_percent(0.5)
    row.set_percent(0.2)
    assert row.bar.value() == 50


@pytest.mark.embed
def test_real_minilm_ingest_of_two_files_reaches_100_percent(
    qtbot: QtBot, tmp_path: Path, settings: object
) -> None:
    from app.config import Settings
    from app.core.clock import SystemClock
    from app.llm.scripted import reply
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import MiniLMEmbedder
    from app.memory.sqlite_store import SqliteStore
    from app.runtime import Runtime
    from tests.ui.conftest import GREETING, SlowBackend

    recall = SqliteStore(tmp_path / "engram.db")
    archival = LanceArchivalStore(tmp_path / "archival", MiniLMEmbedder())
    rt = Runtime(tmp_path, Settings(), recall, archival, SystemClock())
    rt.backend = SlowBackend([reply(GREETING)])
    win = MainWindow(rt, settings=settings)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        qtbot.waitUntil(lambda: not win.busy and bool(win.chat.last_reply_text()), timeout=10_000)
        job = win.add_documents(two_files(tmp_path / "docs"))
        row = win.documents_panel.jobs[job]
        qtbot.waitUntil(lambda: row.finished, timeout=120_000)
        assert row.bar.value() == 100 and row.errors.count() == 0
        assert "2 added" in row.status.text()
        info = recall.get_agent(rt.settings.default_agent)
        assert info is not None
        hits = archival.search(info.id, "pottery studios Lisbon", page_size=3)
        assert hits.items and "notes.md" in " ".join(h.location for h in hits.items)
    finally:
        win.shutdown()
        recall.close()
