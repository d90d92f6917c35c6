"""Starting the desktop app: `run_gui(argv)` builds the QApplication, opens the stores, shows the
window at once, and lets the worker thread load the model while the window is already usable.

The composition root (`app/__main__.py`) calls this when a display exists.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence

from PySide6.QtWidgets import QApplication, QMessageBox

from app.config import private_files, set_offline_switches
from app.core.errors import EngramError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engram", add_help=False)
    parser.add_argument("--model", help="path to a .gguf model file")
    parser.add_argument("--agent", help="agent to open (created if new)")
    return parser


def run_gui(argv: Sequence[str] | None = None) -> int:
    """Run the window until it closes; the exit status. `argv` are the arguments without the
    program name (default: sys.argv[1:]); `--model` and `--agent` are read, the rest go to Qt."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    args, qt_args = build_parser().parse_known_args(args_in)
    private_files()
    set_offline_switches()
    from app.runtime import load_backend
    from app.ui.main_window import MainWindow
    from app.ui.startup import open_stores_deferred, start_after_first_paint

    existing = QApplication.instance()  # Qt reads its own options (-platform…) from qt_args
    app = existing if isinstance(existing, QApplication) else QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("Engram")
    app.setApplicationDisplayName("Engram")
    app.setOrganizationName("Engram")
    try:
        runtime = open_stores_deferred()  # LanceDB opens in the worker, after the window shows
    except EngramError as err:  # nothing runs yet, so a modal message is fine
        QMessageBox.critical(None, "Engram cannot start", err.user_message)
        return 1
    demo = not args.model and runtime.settings.model_path is None
    window = MainWindow(
        runtime,
        load=functools.partial(load_backend, runtime.settings, args.model),
        demo=demo,
        agent=args.agent or "",
    )
    window.show()
    start_after_first_paint(window, window.start)
    try:
        return app.exec()
    finally:
        window.shutdown()
        runtime.close()
