"""Truncation safety on the real tiny model: a constrained call cut at max_tokens gets more
room once (in the same pass); when even that is not enough it ends with finish_reason
"length", the agent reports it as one clear event, and nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core import events as ev
from app.core.agent import Agent, AgentConfig
from app.core.bootstrap import get_or_create_agent
from app.core.clock import SystemClock
from app.core.context import ContextConfig
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm.llamacpp import TRUNCATION_ROOM, LlamaCppBackend
from app.memory.sqlite_store import SqliteStore
from tests.fakes import InMemoryArchival

pytestmark = pytest.mark.model

SCHEMA = {
    "type": "object",
    "properties": {"story": {"type": "string", "maxLength": 300}},
    "required": ["story"],
    "additionalProperties": False,
}
PROMPT = [
    ChatMessage("system", "Answer in JSON."),
    ChatMessage("user", "Write a short story about a lighthouse keeper."),
]


def complete(backend: LlamaCppBackend, max_tokens: int) -> tuple[str, Completion]:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0)
    items = list(backend.stream(PROMPT, schema=SCHEMA, params=params))
    final = items[-1]
    assert isinstance(final, Completion)
    streamed = "".join(i.text for i in items[:-1])  # type: ignore[union-attr]
    return streamed, final


def test_a_call_cut_at_max_tokens_gets_more_room(smol: LlamaCppBackend) -> None:
    _, full = complete(smol, 400)
    assert full.finish_reason == "stop" and json.loads(full.text)["story"]
    needed = full.completion_tokens
    assert needed > 8
    streamed, roomier = complete(smol, -(-needed * 2 // 3))  # fits only with the extra room
    assert roomier.finish_reason == "stop"
    assert roomier.text == full.text == streamed


def test_without_enough_room_it_ends_with_length_not_a_crash(smol: LlamaCppBackend) -> None:
    streamed, cut = complete(smol, 4)
    assert cut.finish_reason == "length"
    assert cut.completion_tokens == 4 * TRUNCATION_ROOM
    assert streamed == cut.text
    with pytest.raises(ValueError):
        json.loads(cut.text)  # a half call: the agent must not parse it as a call


def test_the_agent_turns_a_truncated_step_into_a_clear_event(
    smol: LlamaCppBackend, tmp_path: Path
) -> None:
    recall = SqliteStore(tmp_path / "engram.db")
    clock = SystemClock()
    info, _ = get_or_create_agent(recall, clock, "tiny")
    config = AgentConfig(max_steps=2, context=ContextConfig(reply_tokens=3))
    agent = Agent(info.id, backend=smol, recall=recall, archival=InMemoryArchival(),
                  clock=clock, config=config)  # fmt: skip
    agent.submit("Hello there!")
    events = list(agent.run())
    recall.close()
    steps = [e for e in events if isinstance(e, ev.StepDone)]
    assert steps and all(s.finish_reason == "length" for s in steps)
    failures = [e for e in events if isinstance(e, ev.FunctionReturned)]
    assert failures and all(not f.ok and "length" in f.result for f in failures)
    assert isinstance(events[-1], ev.TurnEnded)
    assert not any(isinstance(e, ev.AssistantMessage) for e in events)
