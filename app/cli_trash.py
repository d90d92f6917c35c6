"""`engram trash [--agent A] [--restore ID ...] [--empty]`: deleted passages, until you say so.

Deleting an archival passage (in the GUI, or by removing a document) only hides it; it stays
recoverable here until the trash is emptied, so no click or model action wipes memory silently.
"""

from __future__ import annotations

import argparse
from typing import Any

SHOWN = 50


def register(subparsers: Any) -> None:
    """Add `trash` to `parser.add_subparsers()`'s result."""
    trash = subparsers.add_parser("trash", help="list, restore or empty deleted passages")
    trash.add_argument("--agent", help="whose trash (default: settings)")
    action = trash.add_mutually_exclusive_group()
    action.add_argument("--restore", nargs="+", metavar="ID", help="bring passages back")
    action.add_argument("--empty", action="store_true", help="delete the trash for good")
    trash.set_defaults(handler=run_trash)


def run_trash(args: argparse.Namespace) -> int:
    from app.cli_docs import open_library

    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=False)
        if args.restore:
            restored = lib.archival.restore(agent_id, args.restore)
            print(f"restored {restored} of {len(args.restore)} passages")
        elif args.empty:
            print(f"deleted {lib.archival.purge_deleted(agent_id)} passages for good")
        else:
            page = lib.archival.list_passages(agent_id, page_size=SHOWN, trash=True)
            print(f"{page.total} passages in the trash" + (":" if page.total else ""))
            for passage in page.items:
                text = " ".join(passage.text.split())[:100]
                print(f"  {passage.id}  [{passage.source}] {text}")
            if page.total > SHOWN:
                print(f"  … and {page.total - SHOWN} more")
    return 0
