"""The entry point of the PyInstaller bundle (`dist/Engram/engram`).

It runs exactly what `python -m app` runs. The one addition is an opt-in probe for
`scripts/package --smoke`: with `ENGRAM_SMOKE_WINDOW=1` the launcher prints
`ENGRAM_WINDOW_VISIBLE` the moment the main window is shown and exposed, optionally saves a
screenshot of it (`ENGRAM_SMOKE_SHOT=path.png`, after `ENGRAM_SMOKE_HOLD` seconds so the model
can load and greet), then closes the app normally. The probe lives here, not in `app/`, because
only the bundle needs to prove that its window appears; nothing here writes inside the bundle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _install_window_probe() -> None:
    """Create the QApplication early (run_gui reuses an existing one) and poll for the window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    app = QApplication([sys.argv[0]])
    shot = os.environ.get("ENGRAM_SMOKE_SHOT", "")
    hold_ms = int(float(os.environ.get("ENGRAM_SMOKE_HOLD", "0")) * 1000)
    poll = QTimer(app)
    poll.setInterval(10)

    def finish(window: QMainWindow) -> None:
        if shot:
            ok = window.grab().save(shot)
            print(f"ENGRAM_SCREENSHOT {shot} {'ok' if ok else 'failed'}", flush=True)
        app.quit()

    def check() -> None:
        for widget in app.topLevelWidgets():
            handle = widget.windowHandle()
            if isinstance(widget, QMainWindow) and widget.isVisible() and handle is not None:
                if not handle.isExposed():
                    continue
                poll.stop()
                print(f"ENGRAM_WINDOW_VISIBLE {widget.windowTitle()!r}", flush=True)
                QTimer.singleShot(hold_ms, lambda w=widget: finish(w))
                return

    poll.timeout.connect(check)
    poll.start()


def main() -> int:
    if getattr(sys, "frozen", False):
        # The bundle is read-only as far as Engram is concerned: caches go to the data dir.
        from app.config import data_dir

        os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(data_dir()) / "cache" / "numba"))
    if os.environ.get("ENGRAM_SMOKE_WINDOW") == "1":
        _install_window_probe()
    from app.__main__ import main as engram_main

    return engram_main()


if __name__ == "__main__":
    sys.exit(main())
