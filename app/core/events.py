"""What the agent loop tells the world: a stream of small, frozen event records.

The terminal and the GUI render these; tests assert on them. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class UserMessageStored:
    """The user's words are durably in recall storage: safe to acknowledge."""

    message_id: int
    text: str


@dataclass(frozen=True)
class ThoughtDelta:
    """Inner monologue, streamed as the model writes it."""

    text: str


@dataclass(frozen=True)
class ReplyDelta:
    """Characters of the visible reply (send_message's `message`), streamed before the call ends."""

    text: str


@dataclass(frozen=True)
class FunctionCalled:
    name: str
    arguments: dict[str, Any]
    thoughts: str


@dataclass(frozen=True)
class FunctionReturned:
    name: str
    ok: bool
    result: str
    heartbeat: bool


@dataclass(frozen=True)
class AssistantMessage:
    """A complete visible reply; `sources` are archival passage ids the agent had retrieved."""

    text: str
    message_id: int
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemoryEdited:
    label: str
    edit_id: int
    actor: str
    old_value: str
    new_value: str


@dataclass(frozen=True)
class MemoryProposed:
    """The model asked for a bulk destructive core-memory edit; it is held, not applied, until
    the user accepts or rejects proposal `proposal_id` (see CoreMemory.accept/reject)."""

    proposal_id: int
    label: str
    actor: str
    old_value: str
    new_value: str


@dataclass(frozen=True)
class ArchivalInserted:
    passage_ids: tuple[str, ...]


@dataclass(frozen=True)
class MemoryPressure:
    """The prompt crossed the warning fraction; the model was told to save what matters."""

    tokens: int
    window: int


@dataclass(frozen=True)
class Evicted:
    """Old messages left the context (they stay in recall) and were folded into the summary."""

    count: int
    summary_installed: bool  # False: the model's summary was rejected; a digest was kept
    tokens_before: int
    tokens_after: int


@dataclass(frozen=True)
class ContextUsage:
    """How the window is spent, for the GUI's gauge; emitted before every step."""

    instructions: int
    core_memory: int
    summary: int
    messages: int
    reserved: int
    window: int
    warn_fraction: float

    @property
    def total(self) -> int:
        return self.instructions + self.core_memory + self.summary + self.messages


@dataclass(frozen=True)
class StepDone:
    """One model call finished; token accounting for benchmarks."""

    step: int
    prompt_tokens: int
    evaluated_prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass(frozen=True)
class StepLimitReached:
    limit: int


@dataclass(frozen=True)
class Cancelled:
    pass


@dataclass(frozen=True)
class Notice:
    """Something the user should read (a warning, a recoverable error), one sentence."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class TurnEnded:
    steps: int
    replied: bool
    extra: dict[str, Any] = field(default_factory=dict)


AgentEvent = (
    UserMessageStored
    | ThoughtDelta
    | ReplyDelta
    | FunctionCalled
    | FunctionReturned
    | AssistantMessage
    | MemoryEdited
    | MemoryProposed
    | ArchivalInserted
    | MemoryPressure
    | Evicted
    | ContextUsage
    | StepDone
    | StepLimitReached
    | Cancelled
    | Notice
    | TurnEnded
)
