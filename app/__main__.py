"""Engram's entry point (`engram` / `python -m app`): the composition root.

Parses the command line, opens the data dir and the model, and hands control to the GUI or the
terminal chat. Every user-facing failure ends in one sentence on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.cli_docs import register as register_document_commands
from app.cli_journal import register as register_journal_commands
from app.cli_models import register as register_model_commands
from app.cli_trash import register as register_trash_command
from app.config import private_files, set_offline_switches
from app.core.errors import EngramError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="engram", description="A private assistant with memory.")
    parser.add_argument("--chat", action="store_true", help="start the terminal chat")
    add_chat_options(parser)
    parser.add_argument("--debug", action="store_true", help="debug logging (may include text)")
    parser.set_defaults(handler=run_default)
    sub = parser.add_subparsers(dest="command")
    chat = sub.add_parser("chat", help="terminal chat")
    add_chat_options(chat)
    chat.set_defaults(handler=run_chat)
    export = sub.add_parser("export", help="write one agent to a JSON file")
    export.add_argument("agent")
    export.add_argument("file", type=Path)
    export.set_defaults(handler=run_export)
    imp = sub.add_parser("import", help="create an agent from an exported JSON file")
    imp.add_argument("file", type=Path)
    imp.add_argument("--name", help="name for the new agent")
    imp.set_defaults(handler=run_import)
    register_document_commands(sub)
    register_model_commands(sub)
    register_trash_command(sub)
    register_journal_commands(sub)
    return parser


def add_chat_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", help="agent name (created if new)")
    parser.add_argument("--model", help="path to a .gguf model file")
    parser.add_argument("--verbose", "-v", action="store_true", help="show thoughts and calls")


def setup_logging(debug: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not debug:
        for noisy in ("engram.llama", "pypdf", "sentence_transformers", "transformers"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def has_display() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_default(args: argparse.Namespace) -> int:
    """No subcommand: the window when there is a screen, else the terminal chat."""
    if args.chat:
        return run_chat(args)
    try:
        from app.ui.app import run_gui
    except ImportError:
        return run_chat(args)
    if not has_display() and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        print(
            "engram: no display found (DISPLAY/WAYLAND_DISPLAY unset); starting the terminal chat."
        )
        return run_chat(args)
    forward = [
        *(["--model", args.model] if args.model else []),
        *(["--agent", args.agent] if args.agent else []),
    ]
    return run_gui(forward)


def run_chat(args: argparse.Namespace) -> int:
    from app.runtime import load_backend, open_stores
    from app.terminal import TerminalChat

    runtime = open_stores()
    try:
        runtime.backend = load_backend(runtime.settings, args.model)
        agent, _ = runtime.agent(args.agent)
        chat = TerminalChat(
            agent,
            agents=lambda: [a.name for a in runtime.recall.list_agents()],
            verbose=args.verbose,
        )
        interactive = sys.stdin.isatty()
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
        if interactive:
            print(
                f"Engram — agent '{args.agent or runtime.settings.default_agent}', model "
                f"{runtime.backend.name}. /help for commands, /exit to quit."
            )
            print("you> ", end="", flush=True)
        return chat.loop(stdin, interactive)
    finally:
        runtime.close()


def run_export(args: argparse.Namespace) -> int:
    from app.memory.agent_file import export_agent
    from app.runtime import open_stores

    runtime = open_stores()
    try:
        n = export_agent(runtime.recall, runtime.archival, args.agent, args.file)
        print(f"exported agent '{args.agent}' ({n} messages) to {args.file}")
        return 0
    finally:
        runtime.close()


def run_import(args: argparse.Namespace) -> int:
    from app.memory.agent_file import import_agent
    from app.runtime import open_stores

    runtime = open_stores()
    try:
        name = import_agent(runtime.recall, runtime.archival, args.file, args.name)
        print(f"imported agent '{name}' from {args.file}")
        return 0
    finally:
        runtime.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.debug)
    private_files()
    set_offline_switches()
    try:
        return int(args.handler(args))
    except EngramError as err:
        print(f"engram: {err.user_message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
