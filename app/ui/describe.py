"""Plain-Python records and wording the window shows: no Qt here, so it is easy to test.

The worker builds these snapshots in its thread and sends them over signals; the widgets only
render them. The sentences for memory actions ("searched archival memory for 'sister' — 3
results") live here too, shared by the live stream and the reloaded transcript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.core.journal import SOURCE as JOURNAL_SOURCE
from app.core.journal import JournalHit
from app.core.messages import Block, BlockEdit, Kind, Message, Page, Passage

_TOTAL = re.compile(r"total (\d+)")


@dataclass(frozen=True)
class MemorySnapshot:
    """What the Memory tab shows for one agent."""

    agent_id: str
    blocks: tuple[Block, ...]
    history: tuple[BlockEdit, ...]  # newest first
    summary: str
    recall_count: int
    archival_count: int


@dataclass(frozen=True)
class Transcript:
    """The tail of an agent's conversation, for the chat view after a switch or a history edit."""

    agent_id: str
    messages: tuple[Message, ...]  # oldest first
    context_start_id: int  # messages before this id were summarised out of the context
    earlier: int  # older messages not included here


@dataclass(frozen=True)
class RecallResults:
    what: str  # "'sister'" or "2026-03-01 to 2026-03-07"
    page: Page[Message]


@dataclass(frozen=True)
class ArchivalResults:
    query: str
    page: Page[Passage]


def stamp(when: datetime) -> str:
    return when.astimezone().strftime("%Y-%m-%d %H:%M")


def when(moment: datetime, now: datetime | None = None) -> str:
    """'10:06' today, '2026-11-23' before."""
    local = moment.astimezone()
    today = (now or datetime.now().astimezone()).date()
    return local.strftime("%H:%M") if local.date() == today else local.strftime("%Y-%m-%d")


def short(text: str, limit: int = 60) -> str:
    """One line of at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def result_count(result: str) -> int | None:
    match = _TOTAL.search(result)
    return int(match.group(1)) if match else None


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _plural(n: int | None, word: str) -> str:
    return "" if n is None else f" — {plural(n, word)}"


def call_in_progress(name: str, arguments: Mapping[str, Any]) -> str:
    """What the agent is doing while a function runs."""
    query = short(str(arguments.get("query", "")), 40)
    return {
        "archival_memory_search": f"searching archival memory for '{query}'…",
        "conversation_search": f"searching the conversation for '{query}'…",
        "conversation_search_date": "looking up past messages by date…",
        "archival_memory_insert": "saving to archival memory…",
        "core_memory_append": f"updating core memory: {arguments.get('label', '')}…",
        "core_memory_replace": f"updating core memory: {arguments.get('label', '')}…",
        "pause_heartbeats": "pausing heartbeats…",
    }.get(name, f"calling {name}…")


def call_summary(name: str, arguments: Mapping[str, Any], ok: bool, result: str) -> str:
    """One dim line for a finished function call."""
    if name == "(invalid)":
        return f"the model's step was not a valid call: {short(result, 90)}"
    if not ok:
        return f"{call_in_progress(name, arguments).rstrip('…')} failed: {short(result, 80)}"
    query = short(str(arguments.get("query", "")), 40)
    count = result_count(result)
    match name:
        case "archival_memory_search":
            return f"searched archival memory for '{query}'{_plural(count, 'result')}"
        case "conversation_search":
            return f"searched the conversation for '{query}'{_plural(count, 'result')}"
        case "conversation_search_date":
            span = f"{arguments.get('start_date', '?')} to {arguments.get('end_date', '?')}"
            return f"looked up messages from {span}{_plural(count, 'result')}"
        case "archival_memory_insert":
            return f"saved to archival memory: '{short(str(arguments.get('content', '')), 50)}'"
        case "core_memory_append" | "core_memory_replace" if result.startswith("Not applied"):
            return f"asked to rewrite core memory: {arguments.get('label', '')} (waiting for you)"
        case "core_memory_append" | "core_memory_replace":
            return f"updated core memory: {arguments.get('label', '')}"
        case "pause_heartbeats":
            return f"paused heartbeats for {arguments.get('minutes', '?')} minutes"
        case _:
            return f"called {name}"


def call_details(arguments: Mapping[str, Any], result: str) -> str:
    shown = {k: v for k, v in arguments.items() if k != "request_heartbeat"}
    args = "\n".join(f"{k}: {v}" for k, v in shown.items())
    return f"{args}\n\n{result}".strip()


def memory_edit_line(actor: str, label: str) -> str | None:
    """The chat line for a core-memory edit; None when the call's own line already says it."""
    if actor == "user":
        return f"you edited core memory: {label}"
    if actor == "undo":
        return f"undid an edit of core memory: {label}"
    if actor.startswith("agent:"):
        return None
    return f"core memory {label} changed by {actor}"


def describe_edit(edit: BlockEdit) -> str:
    """A short account of what one edit changed."""
    old, new = edit.old_value, edit.new_value
    if new.startswith(old):
        return f"+ {short(new[len(old) :], 70)}"
    if old.startswith(new):
        return f"− {short(old[len(new) :], 70)}"
    return f"{short(old, 32)!r} → {short(new, 32)!r}"


def describe_backend(backend: object) -> str:
    """'<model> — on CPU' or '<model> — on GPU: 29/29 layers' from what the backend exposes
    (the total is the GGUF's layer count plus the output layer, as llama.cpp counts them)."""
    name = str(getattr(backend, "name", "model"))
    layers = None
    for attr in ("gpu_layers", "n_gpu_layers", "offloaded_layers"):
        value = getattr(backend, attr, None)
        if isinstance(value, int):
            layers = value
            break
    blocks = getattr(getattr(backend, "info", None), "block_count", 0)
    total = f"/{blocks + 1}" if isinstance(blocks, int) and blocks > 0 else ""
    where = f"on GPU: {layers}{total} layers" if layers and layers > 0 else "on CPU"
    window = getattr(backend, "context_window", None)
    ctx = f", {window:,} tokens of context" if isinstance(window, int) else ""
    return f"{name} — {where}{ctx}"


def function_of(message: Message) -> str:
    return str(message.metadata.get("function", ""))


def call_arguments(message: Message) -> dict[str, Any]:
    """The arguments of a stored function call (empty when its JSON is not readable)."""
    try:
        data = json.loads(message.content)
    except json.JSONDecodeError:
        return {}
    args = data.get("arguments") if isinstance(data, dict) else None
    return args if isinstance(args, dict) else {}


def stored_result(message: Message) -> tuple[bool, str]:
    """(ok, result text) of a stored function result."""
    try:
        data = json.loads(message.content)
    except json.JSONDecodeError:
        return True, ""
    if not isinstance(data, dict):
        return True, ""
    return data.get("status", "OK") == "OK", str(data.get("result", ""))


def who(message: Message) -> str:
    if message.kind == Kind.USER:
        return "you"
    if message.kind == Kind.FUNCTION_CALL:
        return "assistant"
    return str(message.kind).replace("_", " ")


def recall_line(message: Message) -> str:
    return f"[{stamp(message.created_at)}] {who(message)}: {message.text}"


def journal_day(passage: Passage) -> date | None:
    """The day of a journal passage (an entry's day, a review's last day); None otherwise."""
    if passage.source != JOURNAL_SOURCE:
        return None
    return JournalHit.from_passage(passage).day


def journal_entry_id(passage: Passage) -> int:
    """The entry a journal passage was cut from (0 for a review or another passage)."""
    entry = passage.metadata.get("entry_id") if passage.source == JOURNAL_SOURCE else None
    return entry if isinstance(entry, int) and not isinstance(entry, bool) else 0


def citation_label(passage: Passage) -> str:
    """How a reply names a source: a journal passage by its entry's date ("Journal · Tue 3
    Mar 2026") or its review's period, any other by `passage_meta`."""
    day = journal_day(passage)
    if day is not None:
        when = f"{day:%a} {day.day} {day:%b %Y}"
        review, start = passage.metadata.get("review"), passage.metadata.get("period_start")
        if isinstance(review, str) and isinstance(start, str):
            first = date.fromisoformat(start)
            span = f"{first:%B %Y}" if review == "monthly" else f"week of {first.day} {first:%b %Y}"
            when = f"{review} review · {span}"
        return f"Journal · {when}"
    return passage_meta(passage)


def passage_meta(passage: Passage) -> str:
    parts = [passage.source]
    if passage.location:
        parts.append(passage.location)
    parts.append(stamp(passage.created_at))
    return " · ".join(parts)


def unique_name(base: str, taken: Sequence[str]) -> str:
    names = set(taken)
    if base not in names:
        return base
    n = 2
    while f"{base} {n}" in names:
        n += 1
    return f"{base} {n}"
