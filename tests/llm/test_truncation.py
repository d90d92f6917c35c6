"""Truncation safety on the real tiny model: a constrained call cut at max_tokens gets more
room once (in the same pass), and is steered to close inside that room, so it always ends as
a whole, valid call ("stop"); a budget below the shortest valid reply is a clear ModelError."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from app.core import events as ev
from app.core.agent import Agent, AgentConfig
from app.core.bootstrap import get_or_create_agent
from app.core.clock import SystemClock
from app.core.context import ContextConfig
from app.core.errors import ModelError
from app.core.functions import default_toolbox
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


@pytest.mark.parametrize("max_tokens", [4, 6, 9, 15])
def test_with_little_room_the_call_still_closes(smol: LlamaCppBackend, max_tokens: int) -> None:
    streamed, short = complete(smol, max_tokens)
    assert short.finish_reason == "stop"
    assert short.completion_tokens <= max_tokens * TRUNCATION_ROOM
    assert streamed == short.text
    jsonschema.validate(json.loads(short.text), SCHEMA)


def test_a_budget_below_the_shortest_reply_is_a_clear_error(smol: LlamaCppBackend) -> None:
    with pytest.raises(ModelError, match="no room left for a complete reply"):
        complete(smol, 1)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_a_rambling_step_still_ends_as_a_valid_call(
    smol: LlamaCppBackend, temperature: float
) -> None:
    """The step schema on a tight budget and hot sampling: what failed 1 in 24 on CI."""
    toolbox = default_toolbox()
    schema = toolbox.union_schema(("persona", "human"))
    prompt = [
        ChatMessage("system", "You are a helpful assistant. Reply with one JSON function call."),
        ChatMessage("user", "Tell me everything you know about lighthouses, in detail."),
    ]
    for seed in range(4):
        params = SamplingParams(max_tokens=24, temperature=temperature, seed=seed)
        final = list(smol.stream(prompt, schema=schema, params=params))[-1]
        assert isinstance(final, Completion)
        assert final.finish_reason == "stop", final.text
        data = json.loads(final.text)
        jsonschema.validate(data, schema)
        toolbox.parse(data, ("persona", "human"))


def test_the_agent_on_a_tiny_reply_budget_still_makes_valid_calls(
    smol: LlamaCppBackend, tmp_path: Path
) -> None:
    recall = SqliteStore(tmp_path / "engram.db")
    clock = SystemClock()
    info, _ = get_or_create_agent(recall, clock, "tiny")
    config = AgentConfig(max_steps=2, context=ContextConfig(reply_tokens=16))
    agent = Agent(info.id, backend=smol, recall=recall, archival=InMemoryArchival(),
                  clock=clock, config=config)  # fmt: skip
    agent.submit("Hello there! Tell me a long story about the sea.")
    events = list(agent.run())
    recall.close()
    steps = [e for e in events if isinstance(e, ev.StepDone)]
    assert steps and all(s.finish_reason == "stop" for s in steps)
    assert not any(isinstance(e, ev.FunctionReturned) and e.name == "(invalid)" for e in events)
    assert any(isinstance(e, ev.FunctionCalled) for e in events)
    assert isinstance(events[-1], ev.TurnEnded)
