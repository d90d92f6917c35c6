"""Screenshots of the real desktop app: `python scripts/screenshot.py OUTDIR [--scripted] [--dark]`.

Starts Engram (offscreen unless QT_QPA_PLATFORM says otherwise, e.g. `xcb` under xvfb-run) with a
fresh temporary ENGRAM_HOME and the real built-in tiny model, waits for the greeting, sends one
message, waits for the reply, and saves chat.png (with the Context tab open); drops two documents
on the window and saves documents.png when they are in; then memory.png, archival.png and
settings.png (the Model & settings dialog). `--scripted` plays a canned conversation (a
search, a memory edit, a reply with sources) through the ScriptedBackend instead, for layout
work without the model; `--dark` applies a dark palette, as a dark system theme would. Waiting
uses a nested QEventLoop with a timer (never processEvents).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["ENGRAM_HOME"] = tempfile.mkdtemp(prefix="engram-screenshot-")
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication, QMainWindow, QWidget  # noqa: E402

MESSAGE = "Hi! I'm Ada. My sister Maya lives in Lisbon and teaches pottery."


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the event loop until `check()` holds; raise after `timeout` seconds."""
    began = time.monotonic()
    deadline = began + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: loop.quit() if check() or time.monotonic() > deadline else None)
    timer.start()
    if not check():
        loop.exec()
    timer.stop()
    if not check():
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
    print(f"{what}: {time.monotonic() - began:.1f} s")


def dark_palette() -> QPalette:
    palette = QPalette()
    roles = QPalette.ColorRole
    for role, color in (
        (roles.Window, "#2b2b2b"),
        (roles.WindowText, "#e6e6e6"),
        (roles.Base, "#1e1e1e"),
        (roles.AlternateBase, "#333333"),
        (roles.Text, "#e6e6e6"),
        (roles.Button, "#3a3a3a"),
        (roles.ButtonText, "#e6e6e6"),
        (roles.Highlight, "#3d7bd9"),
        (roles.HighlightedText, "#ffffff"),
        (roles.PlaceholderText, "#9a9a9a"),
        (roles.Mid, "#555555"),
        (roles.Link, "#7fb0ff"),
        (roles.ToolTipBase, "#333333"),
        (roles.ToolTipText, "#e6e6e6"),
    ):
        palette.setColor(role, QColor(color))
    for role in (roles.ButtonText, roles.Text, roles.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#777777"))
    return palette


class StallMeter:
    """The longest gap between ticks of a 20 ms GUI-thread timer: how long the window froze."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last)
        self._last = now

    def stop(self) -> None:
        self._timer.stop()


def pause(seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def save(widget: QWidget, path: Path) -> None:
    pause(0.3)  # let queued repaints and layout settle
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def scripted_backend() -> object:
    from app.llm.scripted import ScriptedBackend, call, reply

    return ScriptedBackend(
        [
            reply("Hello! I'm **Engram**, your private assistant. What should I call you?"),
            call("archival_memory_search", "Do I know Maya?", query="Maya", source="any", page=1),
            call(
                "core_memory_append",
                "Save who Ada and Maya are.",
                label="human",
                content="Name: Ada. Sister: Maya (Lisbon, teaches pottery).",
            ),
            reply(
                "Nice to meet you, **Ada**! I've noted that your sister *Maya* lives in "
                "Lisbon and teaches pottery.\n\n- I'll remember this\n- Ask me any time"
            ),
        ],
        context_window=8192,
    )


def write_documents(folder: Path) -> list[str]:
    """A Markdown note and a 3-page PDF to drop on the window."""
    sys.path.insert(0, str(ROOT))
    from tests.ingest.test_readers import write_pdf

    folder.mkdir(parents=True, exist_ok=True)
    note = folder / "family.md"
    note.write_text(
        "# Maya\n\nMaya teaches pottery in Alfama, Lisbon. Her studio opens at nine.\n\n"
        "# Ada\n\nAda visits every spring and brings tea from home.\n",
        encoding="utf-8",
    )
    pages = [
        [f"Trip day {d}: walked to the river, then the market ({i})." for i in range(30)]
        for d in range(1, 4)
    ]
    pdf = write_pdf(folder / "lisbon-trip.pdf", pages)
    return [str(note), str(pdf)]


def drop(window: QMainWindow, paths: list[str]) -> None:
    """A real drop event on the window, as a file manager would send it."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    args = (
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    target = window.centralWidget()
    assert target is not None, "the window has no central widget to drop onto"
    QApplication.sendEvent(target, QDragEnterEvent(QPointF(40, 40), *args))
    QApplication.sendEvent(target, QDropEvent(QPointF(40, 40), *args))


def main(argv: list[str]) -> int:
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__)
        return 2
    out = Path(args[0])
    scripted = "--scripted" in argv
    out.mkdir(parents=True, exist_ok=True)
    from app.config import private_files, set_offline_switches

    private_files()
    set_offline_switches()
    from app.core.bootstrap import get_or_create_agent
    from app.runtime import load_backend
    from app.ui.main_window import MainWindow
    from app.ui.startup import open_stores_deferred

    app = QApplication([sys.argv[0]])
    app.setApplicationName("Engram")
    if "--dark" in argv:  # stands in for a dark system theme: nothing may be hard-coded light
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    runtime = open_stores_deferred()  # as run_gui does
    if scripted:
        info, _ = get_or_create_agent(runtime.recall, runtime.clock, "engram")
        runtime.archival.insert(
            info.id,
            ["Maya's pottery studio is in Alfama, Lisbon."],
            source="document",
            location="notes/family.md, heading 'Maya'",
        )
        window = MainWindow(runtime, load=scripted_backend, demo=True)  # type: ignore[arg-type]
    else:
        window = MainWindow(runtime, load=lambda: load_backend(runtime.settings), demo=True)
    try:
        window.resize(1360, 860)
        window.show()
        window.start()
        meter = StallMeter()
        wait_until(lambda: window.model_ready, 120, "the model to load")
        wait_until(lambda: bool(window.chat.last_reply_text()) and not window.busy, 180, "greeting")
        window.chat.input.setPlainText(MESSAGE)
        window.chat.composer.submit()
        wait_until(lambda: window.busy, 10, "the agent to start")
        wait_until(lambda: not window.busy, 300, "the reply")
        meter.stop()
        print(f"longest GUI freeze while loading and answering: {meter.worst * 1000:.0f} ms")
        window.show_tab(window.context)
        save(window, out / "chat.png")
        drop(window, write_documents(runtime.root / "docs"))
        rows = list(window.documents_panel.jobs.values())
        wait_until(lambda: bool(rows) and all(r.finished for r in rows), 180, "the documents")
        wait_until(lambda: window.documents_panel.library.topLevelItemCount() == 2, 10, "library")
        save(window, out / "documents.png")
        window.show_tab(window.memory)
        save(window, out / "memory.png")
        window.focus_archival_search()
        window.archival.query.setText("")
        window.archival.query.returnPressed.emit()
        pause(2.0)
        save(window, out / "archival.png")
        dialog = window.open_model_settings()
        save(dialog, out / "settings.png")
        dialog.close()
    finally:
        window.shutdown()
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
