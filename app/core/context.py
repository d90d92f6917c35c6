"""Main context: rendering MemGPT's virtual context into a prompt, and budgeting its tokens.

Order matters for speed: what changes least comes first (instructions, function list, core
memory), then memory statistics and the recursive summary, then the FIFO queue. Appending a
message only appends to the prompt, so llama.cpp reuses the KV cache for everything before it.
Statistics are derived from quantities that change only on eviction or memory edits, so they
do not break the cached prefix on every turn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.core.events import ContextUsage
from app.core.messages import ChatMessage, Kind, Message, NewMessage
from app.core.prompts import SYSTEM_INSTRUCTIONS
from app.core.protocols import ChatBackend
from app.core.toolbox import Toolbox

# The form only, with no words a model could copy: SmolLM2-135M answered every message with
# the example's "what the user sees" when the example had a literal message in it.
CALL_EXAMPLE = '{"inner_thoughts": <your private thought>, "function": <name>, "arguments": {...}}'


@dataclass(frozen=True)
class ContextConfig:
    reply_tokens: int = 400  # reserved for every step's output
    warn_fraction: float = 0.75  # memory-pressure alert threshold
    evict_target: float = 0.5  # after eviction the prompt + reply fits in this fraction
    keep_last: int = 4  # messages never evicted
    max_user_fraction: float = 0.25  # one user message may take this much of the window
    max_result_fraction: float = 0.2  # one function result may take this much of the window


@dataclass(frozen=True)
class MemoryStats:
    hidden_messages: int
    archival_passages: int
    core_modified: datetime | None

    def render(self) -> str:
        modified = f"{self.core_modified:%Y-%m-%d %H:%M}" if self.core_modified else "never"
        return (
            f"{self.hidden_messages} earlier messages are in recall memory (not shown here). "
            f"{self.archival_passages} passages are in archival memory. "
            f"Core memory last modified: {modified}."
        )


@dataclass(frozen=True)
class SystemParts:
    """The system message in its parts, so the gauge can show what each costs."""

    instructions: str
    core_memory: str
    stats: str
    summary: str

    def render(self) -> str:
        text = (
            f"{self.instructions}\n### Core memory\n{self.core_memory}\n\n"
            f"### Memory statistics\n{self.stats}"
        )
        if self.summary:
            text += f"\n\n### Summary of the earlier conversation\n{self.summary}"
        return text


def static_instructions(toolbox: Toolbox) -> str:
    """Instructions + function list: identical for every agent using the same toolbox."""
    return (
        f"{SYSTEM_INSTRUCTIONS}\n### Functions\n{toolbox.describe()}\n\n"
        f"Every step is one JSON object: {CALL_EXAMPLE}\n"
    )


def render_messages(system: SystemParts, fifo: Sequence[Message]) -> list[ChatMessage]:
    """The prompt: the system message, then the FIFO queue with same-role runs merged
    (strict chat templates demand alternating roles)."""
    out = [ChatMessage("system", system.render())]
    for m in fifo:
        if out[-1].role == m.role and len(out) > 1:
            out[-1] = ChatMessage(m.role, f"{out[-1].content}\n{m.content}")
        else:
            out.append(ChatMessage(m.role, m.content))
    if len(out) == 1:  # templates need a user turn before the assistant's
        out.append(ChatMessage("user", event_json("system_alert", "(no new events)", None)))
    return out


def event_json(kind: str, message: str, when: datetime | None, **extra: object) -> str:
    """How an event is shown to the model: one line of compact JSON, MemGPT style (no spaces
    after separators: every token costs evaluation time). The time comes before the message,
    so the part of a user event known before the user has typed anything ends right where
    their words begin (`Agent.anticipate`)."""
    payload: dict[str, object] = {"type": kind}
    if when is not None:
        payload["time"] = f"{when:%Y-%m-%d %H:%M}"
    if message:
        payload["message"] = message
    payload.update(extra)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def new_event(kind: Kind, message: str, when: datetime, **extra: object) -> NewMessage:
    return NewMessage(kind, event_json(str(kind), message, when, **extra), message, when)


class TokenMeter:
    """Counts tokens with the model's own tokenizer, memoising per piece of text."""

    def __init__(self, backend: ChatBackend) -> None:
        self._backend = backend
        self._cache: dict[str, int] = {}
        empty = [ChatMessage("system", ""), ChatMessage("user", "")]
        self._overhead = backend.count_tokens(empty)

    def prompt(self, messages: Sequence[ChatMessage]) -> int:
        return self._backend.count_tokens(messages)

    def text(self, text: str) -> int:
        if text not in self._cache:
            if len(self._cache) > 4096:
                self._cache.clear()
            n = self._backend.count_tokens([ChatMessage("system", ""), ChatMessage("user", text)])
            self._cache[text] = max(0, n - self._overhead)
        return self._cache[text]

    def usage(
        self,
        parts: SystemParts,
        fifo: Sequence[Message],
        total: int,
        reserved: int,
        window: int,
        warn: float,
    ) -> ContextUsage:
        instructions = self.text(parts.instructions)
        core = self.text(parts.core_memory) + self.text(parts.stats)
        summary = self.text(parts.summary) if parts.summary else 0
        messages = max(0, total - instructions - core - summary)
        return ContextUsage(instructions, core, summary, messages, reserved, window, warn)


def eviction_cut(
    fifo: Sequence[Message], tokens: Sequence[int], must_free: int, keep_last: int
) -> int:
    """How many of the oldest messages to evict to free `must_free` tokens.

    A cut never separates a function call from its result or heartbeat: the first message kept
    must start a new exchange. Keeps the last `keep_last` messages when it can, fewer when it
    must (one huge message can fill a small window).
    """
    starts = {i for i, m in enumerate(fifo) if m.kind in _EXCHANGE_STARTS}
    for keep in range(keep_last, 0, -1):
        freed = 0
        best = 0
        for i in range(1, len(fifo) - keep + 1):
            freed += tokens[i - 1]
            if i in starts:
                best = i
                if freed >= must_free:
                    return best
        if best and keep == 1:
            return best
    return 0


_EXCHANGE_STARTS = frozenset({Kind.USER, Kind.SYSTEM_ALERT, Kind.LOGIN, Kind.FUNCTION_CALL})


def fit_text(text: str, max_tokens: int, meter: TokenMeter) -> str:
    """Cut `text` to about `max_tokens` tokens, keeping its start."""
    if meter.text(text[: max_tokens * 8]) <= max_tokens and len(text) <= max_tokens * 8:
        return text
    sample = text[:20000]
    ratio = max(1.0, len(sample) / max(1, meter.text(sample)))
    cut = int(max_tokens * ratio * 0.9)
    while cut > 0 and meter.text(text[:cut]) > max_tokens:
        cut = int(cut * 0.8)
    return text[:cut]
