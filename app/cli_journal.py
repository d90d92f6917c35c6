"""`engram journal review --week|--month [--date D]` and `engram journal due`: reflection
from the terminal.

`review` asks the model for the review of the week or month that holds `--date` (default
today: the current period, so far), stores it like the GUI does (a journal passage in the
agent's archival memory, linked to its entries) and prints it. `due` lists the ended weeks and
months that have entries memory may see and no review yet, newest first. Kept-out entries are
never read for either.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from app.core.errors import InputError


def register(subparsers: Any) -> None:
    """Add `journal` (with `review` and `due`) to `parser.add_subparsers()`'s result."""
    journal = subparsers.add_parser("journal", help="journal reviews")
    sub = journal.add_subparsers(dest="journal_command", required=True)
    review = sub.add_parser("review", help="write and print a weekly or monthly review")
    kind = review.add_mutually_exclusive_group(required=True)
    kind.add_argument("--week", dest="kind", action="store_const", const="weekly")
    kind.add_argument("--month", dest="kind", action="store_const", const="monthly")
    review.add_argument(
        "--date", type=_day, help="a day in the period, YYYY-MM-DD (default: today)"
    )
    review.add_argument("--agent", help="whose memory keeps the review (default: settings)")
    review.add_argument("--model", help="path to a .gguf model file")
    review.set_defaults(handler=run_review)
    due = sub.add_parser("due", help="list ended weeks and months with no review yet")
    due.add_argument("--agent", help="whose reviews (default: settings)")
    due.set_defaults(handler=run_due)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-03-14") from None


def run_review(args: argparse.Namespace) -> int:
    from app import runtime as runtime_module
    from app.core.journal import ReviewPeriod, write_review
    from app.memory.journal_store import JournalStore

    rt = runtime_module.open_stores()
    try:
        agent_id = _agent_id(rt, args.agent)
        period = ReviewPeriod.containing(args.kind, args.date or rt.clock.now().date())
        rt.backend = runtime_module.load_backend(rt.settings, args.model)
        with JournalStore(rt.root / "engram.db") as journal:
            review = write_review(
                period,
                rt.backend,
                repo=journal,
                archival=rt.archival,
                agent_id=agent_id,
                now=rt.clock.now(),
            )
        print(f"{period.kind.capitalize()} review of {period.label}")
        print(f"({len(review.entry_ids)} entries, {period.start} to {period.end})\n")
        print(review.text)
        return 0
    finally:
        rt.close()


def run_due(args: argparse.Namespace) -> int:
    from app.core.journal import due_reviews
    from app.memory.journal_store import JournalStore
    from app.runtime import open_stores

    rt = open_stores()
    try:
        agent_id = _agent_id(rt, args.agent)
        with JournalStore(rt.root / "engram.db") as journal:
            due = due_reviews(rt.clock.now().date(), repo=journal, agent_id=agent_id)
        print(f"{len(due)} review{'s' * (len(due) != 1)} due" + (":" if due else "."))
        for period in due:
            print(f"  {period.kind:<8} {period.label} ({period.start} to {period.end})")
        return 0
    finally:
        rt.close()


def _agent_id(rt: Any, name: str | None) -> str:
    wanted = name or rt.settings.default_agent
    found = rt.recall.get_agent(wanted)
    if found is None:
        raise InputError(f"There is no agent called '{wanted}'.")
    return str(found.id)
