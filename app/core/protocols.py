"""The seams between the pure core and its adapters.

The core never imports llama.cpp, SQLite or LanceDB; it talks to them through these small
Protocols and the adapters (`app.llm`, `app.memory`) implement them. Tests swap in fakes that
live behind the very same interfaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from app.core.messages import (
    AgentInfo,
    Block,
    BlockEdit,
    ChatMessage,
    Message,
    NewMessage,
    Page,
    Passage,
)

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class TextDelta:
    """A piece of generated text, streamed as the model writes it."""

    text: str


@dataclass(frozen=True)
class Completion:
    """The end of one generation, with the token accounting the benchmarks rely on."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int = 0
    evaluated_prompt_tokens: int = 0  # prompt tokens actually computed (not reused from KV cache)
    completion_tokens: int = 0


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    repeat_penalty: float = 1.0
    seed: int = 0


class ChatBackend(Protocol):
    """A local chat model. One thread owns it; the agent loop drives it."""

    @property
    def context_window(self) -> int: ...

    @property
    def name(self) -> str: ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens of the whole rendered prompt, counted with the model's own tokenizer and
        chat template, including the generation prompt."""
        ...

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        """Generate a reply. When `schema` is given the output is constrained to it (never
        silently unconstrained). Yields deltas and ends with exactly one Completion; closing
        the iterator early stops generation between tokens."""
        ...


@runtime_checkable
class Prefiller(Protocol):
    """A backend that can evaluate the known head of the next prompt while the user is still
    reading or typing, so that a turn then costs only the user's own words (optional: the agent
    checks for it)."""

    def prefill(self, messages: Sequence[ChatMessage], *, upto: str) -> Iterator[int]:
        """Put the rendered prompt's text before the first `upto` into the cache, one batch
        per item yielded (tokens evaluated so far). Stopping the iteration at any point is
        safe: what was evaluated stays a valid prefix. Nothing happens without `upto`."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True)
class ArchivalFilter:
    """Restricts an archival search. Empty fields mean "any". `start`/`end` bound the time a
    passage was stored; `doc_start`/`doc_end` the date its document says it was made (or, for
    a document without one, its file's modification time); a passage with no document date
    (one the agent or the user stored) is outside any document-date range."""

    sources: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    doc_start: datetime | None = None
    doc_end: datetime | None = None


class ArchivalStore(Protocol):
    """Long-term passage memory (LanceDB + embeddings in production)."""

    def insert(
        self,
        agent_id: str,
        texts: Sequence[str],
        *,
        source: str = "agent",
        tags: Sequence[str] = (),
        location: str = "",
        metadata: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
    ) -> list[str]: ...

    def search(
        self,
        agent_id: str,
        query: str,
        *,
        page: int = 1,
        page_size: int = 5,
        filters: ArchivalFilter | None = None,
    ) -> Page[Passage]: ...

    def count(self, agent_id: str) -> int: ...

    def delete(self, agent_id: str, passage_ids: Sequence[str]) -> int: ...


class RecallStore(Protocol):
    """Every message ever, agents, core blocks with history, and each agent's context state."""

    # agents
    def create_agent(self, name: str, blocks: Sequence[Block], now: datetime) -> AgentInfo: ...
    def get_agent(self, name_or_id: str) -> AgentInfo | None: ...
    def list_agents(self) -> list[AgentInfo]: ...
    def rename_agent(self, agent_id: str, new_name: str) -> None: ...
    def delete_agent(self, agent_id: str) -> None: ...

    # messages (recall)
    def append(self, agent_id: str, messages: Sequence[NewMessage]) -> list[Message]:
        """Durably store messages (one transaction) and return them with ids."""
        ...

    def context_messages(self, agent_id: str) -> list[Message]:
        """The FIFO queue: messages not evicted and not deleted, oldest first."""
        ...

    def count_messages(self, agent_id: str) -> int: ...
    def search_text(
        self, agent_id: str, query: str, page: int, page_size: int
    ) -> Page[Message]: ...
    def search_date(
        self, agent_id: str, start: datetime, end: datetime, page: int, page_size: int
    ) -> Page[Message]: ...
    def delete_messages(self, agent_id: str, message_ids: Sequence[int]) -> None:
        """Hide messages from context and search (history edits such as /pop), kept on disk."""
        ...

    # context state
    def get_state(self, agent_id: str) -> ContextState: ...
    def update_state_extra(self, agent_id: str, **values: Any) -> None:
        """Merge small flags (warned, paused-until) into the persisted context state."""
        ...

    def evict(self, agent_id: str, up_to_id: int, summary: str) -> None:
        """Atomically move the FIFO start past `up_to_id` and install the new summary."""
        ...

    # core memory
    def get_blocks(self, agent_id: str) -> list[Block]: ...
    def set_block(
        self, agent_id: str, label: str, value: str, actor: str, now: datetime
    ) -> BlockEdit:
        """Replace a block's value and record the edit in its history (one transaction)."""
        ...

    def block_history(self, agent_id: str, label: str | None = None) -> list[BlockEdit]: ...
    def undo_edit(self, agent_id: str, edit_id: int, now: datetime) -> BlockEdit:
        """Restore the value a block had before `edit_id`; recorded as a new edit."""
        ...


@dataclass(frozen=True)
class ContextState:
    """What, besides the blocks, makes up an agent's main context after a restart."""

    summary: str = ""
    context_start_id: int = 0  # messages with id >= this (and not deleted) are in context
    extra: dict[str, Any] = field(default_factory=dict)
