"""`Agent.anticipate`: while the agent waits for the user, the backend is handed the next
prompt up to where the user's words will go; that head must be exactly how the real next
prompt starts, or the prefill would be evaluated for nothing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from app.core.clock import ManualClock
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams, TextDelta
from app.llm.scripted import ScriptedBackend, call, reply
from tests.core.conftest import MakeAgent


def prompt_text(messages: Sequence[ChatMessage]) -> str:
    return "\n".join(m.content for m in messages)  # as ScriptedBackend.prefill joins them


def test_the_head_is_how_the_next_prompt_starts(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend([reply("Nice to meet you, Sam.")])
    agent = make_agent(backend)
    list(agent.chat("I am Sam."))
    assert len(list(agent.anticipate())) == 1
    head = backend.prefills[-1]
    assert head.endswith('"message":"')  # the user event's type and time are in it
    list(agent.chat("My sister is Maya."))
    following = prompt_text(backend.calls[-1].messages)
    assert following.startswith(head)
    assert following[len(head) :].startswith('My sister is Maya."}')


def test_after_a_chain_of_calls_the_head_still_matches(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend(
        [call("core_memory_append", label="human", content="Name: Sam"), reply("Noted, Sam.")]
    )
    agent = make_agent(backend)
    list(agent.chat("Remember that I am Sam."))
    list(agent.anticipate())
    list(agent.chat("Thanks!"))
    assert prompt_text(backend.calls[-1].messages).startswith(backend.prefills[-1])


def test_a_minute_later_only_the_time_differs(make_agent: MakeAgent, clock: ManualClock) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    list(agent.anticipate())
    head = backend.prefills[-1]
    clock.advance(minutes=3)
    list(agent.chat("Hello again."))
    following = prompt_text(backend.calls[-1].messages)
    shared = next(i for i, (a, b) in enumerate(zip(head, following, strict=False)) if a != b)
    assert head[:shared].endswith('"time":"2026-03-01 09:0')  # the minute's last digit


def test_nothing_is_anticipated_while_a_reply_is_owed(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend, greet=False)  # the login event waits for a greeting
    assert list(agent.anticipate()) == []
    assert backend.prefills == []


class NoPrefill:
    """A ChatBackend without the optional `prefill`."""

    def __init__(self) -> None:
        self.inner = ScriptedBackend()

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @property
    def name(self) -> str:
        return "no-prefill"

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.inner.count_tokens(messages)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        return self.inner.stream(messages, schema=schema, params=params)


def test_a_backend_without_prefill_is_left_alone(make_agent: MakeAgent) -> None:
    agent = make_agent(ScriptedBackend())
    agent.backend = NoPrefill()
    assert list(agent.anticipate()) == []
    list(agent.chat("Still works?"))
    assert agent.backend.inner.calls  # the turn itself is unaffected


def test_a_draft_extends_the_head_through_the_words_typed(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    list(agent.anticipate('My sister "Maya" is'))
    head = backend.prefills[-1]
    assert head.endswith('"message":"My sister \\"Maya\\" is')  # escaped as JSON will be
    list(agent.chat('My sister "Maya" is a nurse.'))
    assert prompt_text(backend.calls[-1].messages).startswith(head)


def test_a_huge_draft_is_left_out(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    list(agent.anticipate("word " * 2000))
    assert backend.prefills[-1].endswith('"message":"')
