"""Screenshots of the journal view: `python scripts/journal_screenshot.py OUTDIR [--minilm]`.

Fills a fresh temporary ENGRAM_HOME with about four months of generated entries ending today
(moods, tags, one kept out of memory, a gap that breaks an older streak, two stored reviews),
opens the real journal view offscreen on it (real SQLite, real LanceDB with the hash embedder,
or MiniLM with `--minilm`) and saves journal.png, mood_week.png, mood_month.png, search.png
and capture.png. Waiting uses a nested QEventLoop with a timer (never processEvents). The last
line printed is one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["ENGRAM_HOME"] = tempfile.mkdtemp(prefix="engram-journal-shot-")
sys.path.insert(0, str(ROOT))

import shiboken6  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget  # noqa: E402

PEOPLE = ["my sister Maya", "Tom from work", "grandma", "the running club", "Ines next door"]
DOINGS = [
    "walked along the river with {p}",
    "had a long lunch with {p}",
    "argued a bit with {p} about nothing",
    "went to the pottery class, then called {p}",
    "cooked dinner for {p}",
    "ran 8 km with {p} in the rain",
]
FEELINGS = ["tired", "calm", "anxious", "happy", "grateful", "restless"]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Run the event loop until `check()` holds; raise after `timeout` seconds."""
    began = time.monotonic()
    deadline = began + timeout
    loop = QEventLoop()
    timer = QTimer()
    timer.setInterval(30)
    timer.timeout.connect(lambda: loop.quit() if check() or time.monotonic() > deadline else None)
    timer.start()
    if not check():
        loop.exec()
    timer.stop()
    timer.timeout.disconnect()  # PySide keeps a connected lambda (and the widgets it holds)
    if not check():
        raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
    return time.monotonic() - began


def generate(store: object, today: date, days: int = 120) -> int:
    """Entries for most of the last `days` days, moods drifting week by week."""
    from app.memory.journal_store import JournalStore

    assert isinstance(store, JournalStore)
    now = datetime.now(UTC)
    written = 0
    for n in range(days):
        day = today - timedelta(days=days - 1 - n)
        if n % 9 == 4 or (days - 30 <= n <= days - 27):  # some gaps, one breaking a streak
            continue
        person = PEOPLE[(n * 3) % len(PEOPLE)]
        doing = DOINGS[n % len(DOINGS)].format(p=person)
        mood = max(1, min(5, 3 + round(1.4 * ((n // 7) % 5 - 2) / 2) + (n % 3 == 0) - (n % 5 == 0)))
        feeling = FEELINGS[(n + mood) % len(FEELINGS)]
        text = (
            f"# {day:%A}\n\nToday I {doing}. I felt **{feeling}** most of the day.\n\n"
            f"- slept {6 + n % 3} hours\n- read a few pages before bed"
        )
        store.create(day, now, text, mood=mood, mood_tags=[feeling], tags=[person.split()[-1]])
        written += 1
    store.create(
        today - timedelta(days=2),
        now,
        "A private note: the biopsy results came back. Not for the agent.",
        keep_out=True,
        tags=["health"],
    )
    return written


def add_reviews(store: object, agent_id: str, today: date) -> None:
    from app.core.journal import Review, ReviewPeriod
    from app.memory.journal_store import JournalStore

    assert isinstance(store, JournalStore)
    for kind, day in (
        ("weekly", today - timedelta(days=7)),
        ("monthly", today.replace(day=1) - timedelta(days=1)),
    ):
        period = ReviewPeriod.containing(kind, day)  # type: ignore[arg-type]
        entries = store.entries_between(period.start, period.end)
        text = (
            f"(sample review) Over {period.label} you wrote {len(entries)} times. Maya and the "
            "running club come up most; your mood rose towards the end."
        )
        store.save_review(
            Review(0, agent_id, period, text, tuple(e.id for e in entries), (), datetime.now(UTC))
        )


def shoot(widget: QWidget, path: Path) -> None:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path}")


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance()
    assert app is not None, "create the QApplication first (it must outlive the widgets)"

    from app.config import Settings
    from app.core.bootstrap import create_agent
    from app.core.clock import SystemClock
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import HashEmbedder, MiniLMEmbedder
    from app.memory.journal_store import JournalStore
    from app.memory.sqlite_store import SqliteStore
    from app.runtime import Runtime
    from app.ui.journal_dock import Journal, QuickCapture

    root = Path(os.environ["ENGRAM_HOME"])
    clock = SystemClock()
    today = clock.now().date()
    recall = SqliteStore(root / "engram.db")
    embedder = MiniLMEmbedder() if "--minilm" in argv else HashEmbedder()
    archival = LanceArchivalStore(root / "archival", embedder)
    runtime = Runtime(root, Settings(), recall, archival, clock)
    info = create_agent(recall, clock, "engram")
    with JournalStore(root / "engram.db") as store:
        written = generate(store, today)
        add_reviews(store, info.id, today)

    journal = Journal(runtime)
    view = journal.view
    view.resize(1280, 780)
    view.setWindowTitle("Engram — Journal")
    view.show()
    began = time.monotonic()
    journal.follow(info)
    indexed: list[int] = []
    journal.worker.indexed.connect(indexed.append)
    wait_until(lambda: bool(view.look_back.chart.points) and bool(view.marked), 120, "the view")
    wait_until(lambda: bool(indexed), 300, "indexing")
    loaded_s = time.monotonic() - began
    wait_until(lambda: view.editor.entry_id != 0, 10, "today's entry")
    view.editor.text.moveCursor(view.editor.text.textCursor().MoveOperation.End)
    view.editor.text.setFocus()
    shoot(view, out / "journal.png")
    shoot(view.look_back.chart, out / "mood_week.png")
    view.look_back.bucket.setCurrentText("month")
    shoot(view.look_back.chart, out / "mood_month.png")
    view.look_back.bucket.setCurrentText("week")

    view.side.setCurrentWidget(view.search)
    view.search.query.setText("Maya pottery")
    view.search.run()
    wait_until(lambda: view.search.results.count() > 0, 60, "search results")
    shoot(view, out / "search.png")

    capture = QuickCapture()
    capture.text.setPlainText("Remember: call grandma on Sunday about the garden.")
    capture.show()
    shoot(capture, out / "capture.png")
    capture.close()

    points = len(view.look_back.chart.points)
    journal.shutdown()
    recall.close()
    shiboken6.delete(view)  # a parentless top-level must go before QApplication does
    app.quit()
    print(
        json.dumps(
            {
                "journal_entries": written + 1,
                "journal_chart_points_week": points,
                "journal_marked_days_shown": len(view.marked),
                "journal_load_and_index_s": round(loaded_s, 2),
                "embedder": "minilm" if "--minilm" in argv else "hash",
            }
        )
    )
    return 0


if __name__ == "__main__":
    APP = QApplication([sys.argv[0]])  # module-level: destroyed after main()'s widgets
    sys.exit(main(sys.argv[1:]))
