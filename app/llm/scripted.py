"""ScriptedBackend: a deterministic ChatBackend for agent-loop tests.

It lives behind the same Protocol as the llama.cpp backend: outputs are queued with
`enqueue()` (strings or dicts, encoded as JSON), streamed in small pieces, cut at `max_tokens`
with finish_reason "length" like a real model, and every prompt and schema it was given is kept
for assertions. Token counts are a fixed, documented approximation (4 characters per token).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.core.messages import ChatMessage
from app.core.protocols import Completion, FinishReason, SamplingParams, TextDelta

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4


@dataclass(frozen=True)
class ScriptedCall:
    messages: tuple[ChatMessage, ...]
    schema: Mapping[str, Any] | None
    params: SamplingParams


def reply(message: str, thoughts: str = "Replying.") -> dict[str, Any]:
    """A send_message step, for scripts."""
    return {
        "inner_thoughts": thoughts,
        "function": "send_message",
        "arguments": {"message": message},
    }


def call(
    function: str, thoughts: str = "Working.", heartbeat: bool = True, **arguments: Any
) -> dict[str, Any]:
    """Any other function step, for scripts."""
    return {
        "inner_thoughts": thoughts,
        "function": function,
        "arguments": {**arguments, "request_heartbeat": heartbeat},
    }


class ScriptedBackend:
    """Plays back queued outputs; when the queue is empty it says `default` via send_message."""

    def __init__(
        self,
        outputs: Sequence[str | Mapping[str, Any]] = (),
        *,
        context_window: int = 4096,
        default: str = "OK.",
        chunk_chars: int = 7,
    ) -> None:
        self._queue: deque[str] = deque()
        self._window = context_window
        self._default = default
        self._chunk = chunk_chars
        self.calls: list[ScriptedCall] = []
        self.prefills: list[str] = []  # the prompt heads `prefill` was asked to evaluate
        self.enqueue(*outputs)

    @property
    def context_window(self) -> int:
        return self._window

    @property
    def name(self) -> str:
        return "scripted"

    def enqueue(self, *outputs: str | Mapping[str, Any]) -> None:
        for out in outputs:
            self._queue.append(out if isinstance(out, str) else json.dumps(out))

    @property
    def pending(self) -> int:
        return len(self._queue)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m.content) // CHARS_PER_TOKEN + MESSAGE_OVERHEAD for m in messages) + 2

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        self.calls.append(ScriptedCall(tuple(messages), schema, params))
        prompt_tokens = self.count_tokens(messages)
        if prompt_tokens + params.max_tokens > self._window:
            raise ValueError(
                f"prompt of {prompt_tokens} tokens + {params.max_tokens} overflows the window"
            )
        text = self._queue.popleft() if self._queue else self._fallback(schema)
        finish: FinishReason = "stop"
        if len(text) > params.max_tokens * CHARS_PER_TOKEN:
            text, finish = text[: params.max_tokens * CHARS_PER_TOKEN], "length"
        for i in range(0, len(text), self._chunk):
            yield TextDelta(text[i : i + self._chunk])
        yield Completion(text, finish, prompt_tokens, prompt_tokens, len(text) // CHARS_PER_TOKEN)

    def prefill(self, messages: Sequence[ChatMessage], *, upto: str) -> Iterator[int]:
        """Keeps the anticipated head (messages joined by newlines, cut before `upto`)."""
        text = "\n".join(m.content for m in messages)
        at = text.find(upto)
        if at > 0:
            self.prefills.append(text[:at])
            yield at // CHARS_PER_TOKEN

    def _fallback(self, schema: Mapping[str, Any] | None) -> str:
        if schema is None:
            return f"The user and the assistant talked. {self._default}"
        return json.dumps(reply(self._default))
