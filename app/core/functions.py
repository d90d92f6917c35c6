"""The MemGPT function set. Each docstring is what the model reads; each signature its schema.

Results are short plain text with true paging totals and the time each hit was stored, so a
small model can tell "nothing found" from "look at page 2".
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Literal

from app.core.errors import ToolError
from app.core.events import ArchivalInserted, MemoryEdited, MemoryProposed
from app.core.journal import journal_filter_for
from app.core.messages import BlockEdit, Kind, Message, Page, Passage
from app.core.proposals import Proposal
from app.core.schema import BlockLabel, MaxLen, Pattern, Range
from app.core.toolbox import Tool, Toolbox, ToolContext, tool

Text = Annotated[str, MaxLen(1000)]
Query = Annotated[str, MaxLen(120)]
PageNo = Annotated[int, Range(1, 99)]
Date = Annotated[str, Pattern(r"^\d{4}-\d{2}-\d{2}$")]
Where = Literal["any", "documents", "journal", "saved"]
# The `source` values archival passages are stored with (app/ingest, core/journal, this module).
ARCHIVAL_SOURCES: dict[str, tuple[str, ...]] = {
    "documents": ("document",),
    "journal": ("journal",),
    "saved": ("agent",),
}
Minutes = Annotated[int, Range(1, 1440)]


@tool(ends_chain=True)
def send_message(ctx: ToolContext, message: Text) -> str:
    """Send a message the user will see. This is the only way to talk to the user.

    Args:
        message: The message, in your persona's voice.
    """
    return "Sent message successfully."


@tool()
def core_memory_append(
    ctx: ToolContext, label: BlockLabel, content: Text, request_heartbeat: bool
) -> str:
    """Add a line to a core memory block (always visible to you). Save key facts about the
    user in 'human' and about yourself in 'persona'.

    Args:
        label: Which block to edit.
        content: The text to add.
        request_heartbeat: true to run again right after this call (e.g. to reply).
    """
    outcome = ctx.memory.append(label, content, ctx.actor)
    if isinstance(outcome, Proposal):
        return _held(ctx, outcome)
    _record(ctx, outcome)
    return f"Appended to {label}; it now uses {_usage(ctx, label)}."


@tool()
def core_memory_replace(
    ctx: ToolContext,
    label: BlockLabel,
    old_content: Text,
    new_content: Text,
    request_heartbeat: bool,
) -> str:
    """Replace exact text in a core memory block. An empty new_content deletes the old text.

    Args:
        label: Which block to edit.
        old_content: Text copied exactly from the block.
        new_content: The text to put in its place.
        request_heartbeat: true to run again right after this call.
    """
    outcome = ctx.memory.replace(label, old_content, new_content, ctx.actor)
    if isinstance(outcome, Proposal):
        return _held(ctx, outcome)
    _record(ctx, outcome)
    return f"Replaced text in {label}; it now uses {_usage(ctx, label)}."


@tool()
def conversation_search(
    ctx: ToolContext, query: Query, page: PageNo, request_heartbeat: bool
) -> str:
    """Search the whole past conversation (recall memory) for words, including messages no
    longer in your context.

    Args:
        query: Words to look for.
        page: Result page, starting at 1.
        request_heartbeat: true to run again after seeing the results.
    """
    found = ctx.recall.search_text(ctx.agent_id, query, page, ctx.page_size)
    return _format_messages(found, f"conversation matches for '{query}'")


@tool()
def conversation_search_date(
    ctx: ToolContext, start_date: Date, end_date: Date, page: PageNo, request_heartbeat: bool
) -> str:
    """List past conversation messages between two dates (inclusive).

    Args:
        start_date: First day, YYYY-MM-DD.
        end_date: Last day, YYYY-MM-DD.
        page: Result page, starting at 1.
        request_heartbeat: true to run again after seeing the results.
    """
    start, end = _parse_day(start_date), _parse_day(end_date)
    if end < start:
        start, end = end, start
    found = ctx.recall.search_date(
        ctx.agent_id,
        start,
        end + timedelta(days=1) - timedelta(microseconds=1),
        page,
        ctx.page_size,
    )
    return _format_messages(found, f"messages from {start_date} to {end_date}")


@tool()
def archival_memory_insert(ctx: ToolContext, content: Text, request_heartbeat: bool) -> str:
    """Store a passage in long-term archival memory, for anything worth keeping that does not
    need to be in core memory.

    Args:
        content: The text to store; make it self-contained.
        request_heartbeat: true to run again right after this call.
    """
    ids = ctx.archival.insert(ctx.agent_id, [content], source="agent", created_at=ctx.clock.now())
    ctx.effects.append(ArchivalInserted(tuple(ids)))
    return f"Stored in archival memory (id {ids[0]})."


@tool()
def archival_memory_search(
    ctx: ToolContext, query: Query, source: Where, page: PageNo, request_heartbeat: bool
) -> str:
    """Search long-term archival memory (saved facts and the user's documents).

    Args:
        query: What to look for: names, words or a question.
        source: Where to look: any, documents (files the user added), journal (the user's
            journal), saved (facts you saved with archival_memory_insert).
        page: Result page, starting at 1.
        request_heartbeat: true to run again after seeing the results.
    """
    now = ctx.clock.now()
    # Dates in the question ("in March", "last week") become a date filter on the search:
    # on when passages were stored, else, when none was, on the date documents were made.
    sources = ARCHIVAL_SOURCES.get(source, ())
    asked = journal_filter_for(query, now.date(), sources=sources, tz=now.tzinfo or UTC)
    if asked.dates is not None:
        found = ctx.archival.search(
            ctx.agent_id, asked.keywords, page=page, page_size=ctx.page_size, filters=asked.filter
        )
        if not found.total:
            by_document = replace(
                asked.filter,
                start=None,
                end=None,
                doc_start=asked.filter.start,
                doc_end=asked.filter.end,
            )
            found = ctx.archival.search(
                ctx.agent_id,
                asked.keywords,
                page=page,
                page_size=ctx.page_size,
                filters=by_document,
            )
    else:
        found = ctx.archival.search(
            ctx.agent_id,
            query,
            page=page,
            page_size=ctx.page_size,
            filters=asked.filter if sources else None,
        )
    ctx.retrieved.extend(p.id for p in found.items)
    return _format_passages(found, f"archival matches for '{query}'")


@tool(ends_chain=True)
def pause_heartbeats(ctx: ToolContext, minutes: Minutes) -> str:
    """Stop timed heartbeats for a while and wait quietly for the user.

    Args:
        minutes: How long to pause, 1 to 1440.
    """
    until = ctx.clock.now() + timedelta(minutes=minutes)
    ctx.recall.update_state_extra(ctx.agent_id, heartbeats_paused_until=until.isoformat())
    return f"Timed heartbeats paused until {until:%Y-%m-%d %H:%M}."


def default_toolbox() -> Toolbox:
    tools: list[Tool] = [
        send_message,
        core_memory_append,
        core_memory_replace,
        conversation_search,
        conversation_search_date,
        archival_memory_insert,
        archival_memory_search,
        pause_heartbeats,
    ]
    return Toolbox(tools)


def _record(ctx: ToolContext, edit: BlockEdit) -> None:
    ctx.effects.append(
        MemoryEdited(edit.label, edit.id, edit.actor, edit.old_value, edit.new_value)
    )


def _held(ctx: ToolContext, proposal: Proposal) -> str:
    """A bulk removal was held for the user; tell the model plainly so it does not retry."""
    ctx.effects.append(
        MemoryProposed(
            proposal.id, proposal.label, proposal.actor, proposal.old_value, proposal.new_value
        )
    )
    return (
        f"Not applied: that edit would remove {proposal.removed()} of "
        f"{len(proposal.old_value)} characters of {proposal.label}, so it waits for the "
        f"user's confirmation (proposal #{proposal.id}). Do not repeat it; carry on."
    )


def _usage(ctx: ToolContext, label: str) -> str:
    block = ctx.memory.get(label)
    return f"{len(block.value)}/{block.limit} characters"


def _parse_day(text: str) -> datetime:
    try:
        day = datetime.strptime(text.strip()[:10], "%Y-%m-%d").date()  # "2026-03-01T09:00"
    except ValueError as exc:
        raise ToolError(f"'{text}' is not a date; write it as YYYY-MM-DD.") from exc
    return datetime.combine(day, time.min, tzinfo=UTC)


def fence_safe(text: str) -> str:
    """Passage text as data: a document containing "</passage>" cannot close the fence and
    have what follows read as instructions, so tag brackets of passage tags are neutralised."""
    return re.sub(r"<(/?)(passage)", r"‹\1\2", text, flags=re.IGNORECASE)


def stamp(when: datetime) -> str:
    """How times are shown to the model: short, unambiguous, local to the stored zone."""
    return when.strftime("%Y-%m-%d %H:%M")


_SPEAKER = {Kind.USER: "user", Kind.FUNCTION_CALL: "you"}


def _format_messages(found: Page[Message], what: str) -> str:
    if not found.items:
        return f"No {what} (page {found.page}, total {found.total})."
    lines = [f"{found.header()} of {what}:"]
    for m in found.items:
        who = _SPEAKER.get(m.kind, "system")
        lines.append(f"[{stamp(m.created_at)}] {who}: {m.text}")
    return "\n".join(lines)


def _format_passages(found: Page[Passage], what: str) -> str:
    if not found.items:
        return f"No {what} (page {found.page}, total {found.total})."
    lines = [f"{found.header()} of {what}:"]
    for p in found.items:
        where = f" ({p.location})" if p.location else ""
        lines.append(f'[{stamp(p.created_at)}] <passage id="{p.id}" source="{p.source}"{where}>')
        lines.append(fence_safe(p.text))
        lines.append("</passage>")
    return "\n".join(lines)
