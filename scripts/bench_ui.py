"""How responsive the window stays: `python scripts/bench_ui.py [--quick] [--pages N]`.

Starts the real window (offscreen unless QT_QPA_PLATFORM says otherwise) on a fresh temporary
ENGRAM_HOME with the real built-in tiny model, the real MiniLM and LanceDB, and measures:

- `window_visible_s`: from the process's start (the kernel's record, so interpreter start-up and
  imports count) to the window's first paint, while the model still loads in the background;
- event-loop lag on the UI thread: a 10 ms QTimer records how late each tick fires, in phases:
  while the model loads, while the agent generates (the greeting and one reply), while a
  generated 200-page PDF is ingested (MiniLM load included), and both at once.

Prints a table, then as its last line one JSON object with `ui_lag_p99_ms` (over every tick
of the working phases) and `window_visible_s`. `--quick`: a 20-page PDF and no extra message.
"""

from __future__ import annotations

import time

STARTED = time.time()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["ENGRAM_HOME"] = tempfile.mkdtemp(prefix="engram-bench-ui-")

from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TICK_MS = 10
MESSAGE = "Hi! I'm Ada. My sister Maya lives in Lisbon and teaches pottery. What do you know?"
VOCABULARY = (
    "memory archive pottery Lisbon sister studio river lantern orchard harbour winter letter "
    "garden museum recipe violin station bridge market festival"
).split()


def process_start() -> float:
    """The wall-clock time this process started (Linux /proc), else when this module ran."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(stat[19])  # field 22, starttime, counted after the ")" of field 2
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return STARTED


class LagMeter(QObject):
    """A 10 ms timer on the UI thread; each tick records how late it came, per phase."""

    def __init__(self) -> None:
        super().__init__()
        self.phase = "startup"
        self.lags: dict[str, list[float]] = {}
        self.last_tick = time.monotonic()
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)

    def start(self, phase: str) -> None:
        self.phase = phase
        self.lags.setdefault(phase, [])
        self._clock.start()
        self._timer.start()

    def _tick(self) -> None:
        self.last_tick = time.monotonic()
        elapsed = self._clock.nsecsElapsed() / 1e6
        self._clock.start()
        self.lags.setdefault(self.phase, []).append(max(0.0, elapsed - TICK_MS))

    def stop(self) -> None:
        self._timer.stop()


class StallReporter:
    """`--diagnose`: a plain thread that prints every thread's stack when the UI thread has not
    ticked for STALL_S, to find out what froze it."""

    STALL_S = 0.3

    def __init__(self, meter: LagMeter) -> None:
        import threading

        self._meter = meter
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import traceback

        reported = 0.0
        while not self._stop.wait(0.05):
            quiet = time.monotonic() - self._meter.last_tick
            if quiet > self.STALL_S and self._meter.last_tick != reported:
                reported = self._meter.last_tick
                print(f"--- UI thread quiet for {quiet:.2f} s in {self._meter.phase}", flush=True)
                for ident, frame in sys._current_frames().items():
                    name = "UI" if ident == self._main else str(ident)
                    stack = "".join(traceback.format_stack(frame, limit=8))
                    print(f"[{name}]\n{stack}", flush=True)

    def stop(self) -> None:
        self._stop.set()


class FirstPaint(QObject):
    """Records when the watched widget is first painted."""

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.at is None and event.type() in (QEvent.Type.Paint, QEvent.Type.Expose):
            self.at = time.time()
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Run the event loop until `check()` holds; the seconds it took."""
    began = time.monotonic()
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(25)
    timer.timeout.connect(
        lambda: loop.quit() if check() or time.monotonic() - began > timeout else None
    )
    timer.start()
    if not check():
        loop.exec()
    timer.stop()
    if not check():
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
    return time.monotonic() - began


def make_pdf(path: Path, pages: int) -> None:
    """A text PDF of `pages` pages, about 40 lines each (the test suite's minimal writer)."""
    import random

    from tests.ingest.test_readers import write_pdf

    rng = random.Random(11)
    content = [
        [
            " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(8, 14))).capitalize() + "."
            for _ in range(40)
        ]
        for _ in range(pages)
    ]
    write_pdf(path, content)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(pages: int, quick: bool, diagnose: bool = False) -> dict[str, object]:
    from app.config import private_files, set_offline_switches

    private_files()
    set_offline_switches()
    from app.runtime import load_backend
    from app.ui.main_window import MainWindow
    from app.ui.startup import open_stores_deferred, start_after_first_paint

    app = QApplication([sys.argv[0]])
    runtime = open_stores_deferred()  # as run_gui does
    pdf, other = runtime.root / "book.pdf", runtime.root / "book2.pdf"
    make_pdf(pdf, pages)  # before the clock runs: the writer's imports are not the app's
    make_pdf(other, max(pages // 4, 5))  # other bytes (a copy would be skipped as a duplicate)
    window = MainWindow(runtime, load=lambda: load_backend(runtime.settings), demo=True)
    painted = FirstPaint()
    window.installEventFilter(painted)
    meter = LagMeter()
    reporter = StallReporter(meter) if diagnose else None
    seconds: dict[str, float] = {}
    try:
        window.resize(1280, 800)
        window.show()
        start_after_first_paint(window, window.start)  # as run_gui does
        meter.start("model load")
        wait_until(lambda: painted.at is not None, 30, "the first paint")
        seconds["model load"] = wait_until(lambda: window.model_ready, 120, "the model")
        meter.start("generate")
        began = time.monotonic()
        wait_until(lambda: bool(window.chat.last_reply_text()) and not window.busy, 300, "greeting")
        if not quick:
            window.chat.input.setPlainText(MESSAGE)
            window.chat.composer.submit()
            wait_until(lambda: window.busy, 10, "the agent to start")
            wait_until(lambda: not window.busy, 300, "the reply")
        seconds["generate"] = time.monotonic() - began
        meter.start("ingest")
        job = window.add_documents([str(pdf)])
        row = window.documents_panel.jobs[job]
        seconds["ingest"] = wait_until(lambda: row.finished, 600, "the ingest")
        if row.bar.value() != 100:
            raise RuntimeError(f"the ingest did not finish: {row.status.text()}")
        meter.start("generate + ingest")
        began = time.monotonic()
        job = window.add_documents([str(other)])
        row = window.documents_panel.jobs[job]
        window.chat.input.setPlainText("Tell me about Maya.")
        window.chat.composer.submit()
        wait_until(lambda: row.finished and not window.busy, 600, "the reply and the ingest")
        seconds["generate + ingest"] = time.monotonic() - began
        meter.stop()
    finally:
        if reporter is not None:
            reporter.stop()
        window.shutdown()
        runtime.close()
    del app
    assert painted.at is not None
    return {"visible": painted.at - process_start(), "lags": meter.lags, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 pages, greeting only")
    parser.add_argument("--pages", type=int, default=None, help="pages of the PDF (200)")
    parser.add_argument("--diagnose", action="store_true", help="print stacks of UI stalls")
    args = parser.parse_args(argv)
    pages = args.pages or (20 if args.quick else 200)
    result = run(pages, args.quick, args.diagnose)
    lags: dict[str, list[float]] = result["lags"]  # type: ignore[assignment]
    seconds: dict[str, float] = result["seconds"]  # type: ignore[assignment]
    print(f"{'phase':<20}{'seconds':>9}{'ticks':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for phase, values in lags.items():
        print(
            f"{phase:<20}{seconds.get(phase, 0.0):>9.1f}{len(values):>8}"
            f"{percentile(values, 0.5):>9.1f}{percentile(values, 0.99):>9.1f}"
            f"{max(values, default=0.0):>9.1f}"
        )
    working = [v for phase, values in lags.items() if phase != "model load" for v in values]
    visible = float(result["visible"])  # type: ignore[arg-type]
    print(f"window visible after {visible:.2f} s (pdf: {pages} pages)")
    summary = {
        "ui_lag_p99_ms": round(percentile(working, 0.99), 1),
        "ui_lag_max_ms": round(max(working, default=0.0), 1),
        "ui_lag_p99_by_phase_ms": {p: round(percentile(v, 0.99), 1) for p, v in lags.items()},
        "window_visible_s": round(visible, 2),
        "pdf_pages": pages,
        "quick": args.quick,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
