"""The agent loop with a ScriptedBackend over real SQLite: control flow, failures, queueing."""

from __future__ import annotations

import json

import pytest

from app.core import events as ev
from app.core.agent import CancelToken
from app.core.context import ContextConfig
from app.core.errors import InputError
from app.core.messages import ChatMessage, Kind
from app.core.schema import validate
from app.llm.scripted import ScriptedBackend, call, reply
from tests.core.conftest import MakeAgent


def kinds(events: list[ev.AgentEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_first_reply_is_constrained_to_send_message(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend([reply("Hi, I am Engram.")])
    agent = make_agent(backend, greet=False)
    assert agent.awaiting_reply  # the login event waits for a greeting
    events = list(agent.run())
    schema = backend.calls[0].schema
    assert schema is not None and schema["properties"]["function"] == {"const": "send_message"}
    assert [e.text for e in events if isinstance(e, ev.AssistantMessage)] == ["Hi, I am Engram."]


@pytest.mark.parametrize(
    ("source", "found"),
    [("any", {"doc", "diary", "fact"}), ("documents", {"doc"}), ("journal", {"diary"}),
     ("saved", {"fact"})],
)  # fmt: skip
def test_archival_search_narrows_to_the_source_the_model_chose(
    make_agent: MakeAgent, source: str, found: set[str]
) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    for tag, where in (("doc", "document"), ("diary", "journal"), ("fact", "agent")):
        agent.archival.insert(agent.agent_id, [f"{tag}: Anna plays the cello."], source=where)
    backend.enqueue(
        call("archival_memory_search", query="Anna cello", source=source, page=1), reply("ok")
    )
    events = list(agent.chat("What does Anna play?"))
    [result] = [
        e for e in events if isinstance(e, ev.FunctionReturned) and e.name != "send_message"
    ]
    assert {tag for tag in ("doc", "diary", "fact") if f"{tag}: Anna" in result.result} == found


def test_heartbeat_chains_a_search_then_a_reply(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    agent.archival.insert(agent.agent_id, ["Anna is the user's sister and lives in Lisbon."])
    backend.enqueue(
        call("archival_memory_search", query="sister", source="any", page=1),
        reply("Your sister Anna lives in Lisbon."),
    )
    events = list(agent.chat("Where does my sister live?"))
    returned = [e for e in events if isinstance(e, ev.FunctionReturned)]
    assert [r.name for r in returned] == ["archival_memory_search", "send_message"]
    assert returned[0].heartbeat and "page 1 of 1, total 1" in returned[0].result
    final = next(e for e in events if isinstance(e, ev.AssistantMessage))
    assert final.sources and len(final.sources) == 1
    # the search result was in the second prompt
    assert "Anna is the user's sister" in backend.calls[-1].messages[-1].content
    assert not agent.awaiting_reply


def test_no_heartbeat_ends_the_chain_without_a_reply(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(call("archival_memory_insert", heartbeat=False, content="x y"))
    events = list(agent.chat("remember x y"))
    assert len(backend.calls) == 2  # greeting + one step
    assert events[-1] == ev.TurnEnded(1, False)


def test_step_limit_forces_a_reply_and_ends_runaway_chains(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend, max_steps=3)
    backend.enqueue(*[call("conversation_search", query="x", page=1)] * 3, reply("unused"))
    events = list(agent.chat("loop forever"))
    last_schema = backend.calls[-1].schema
    assert last_schema is not None and "anyOf" not in last_schema  # only send_message allowed
    # the 3rd scripted search is refused at the last step; the chain still stops at the limit
    assert any(isinstance(e, ev.StepLimitReached) for e in events)
    steps = [e for e in events if isinstance(e, ev.StepDone)]
    assert len(steps) == 3
    fifo = agent.recall.context_messages(agent.agent_id)
    assert fifo[-1].kind == Kind.SYSTEM_ALERT and "Step limit" in fifo[-1].text


def test_failed_calls_are_reported_and_force_a_heartbeat(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(
        '{"inner_thoughts": "hm", "function": "delete_everything", "arguments": {}}',
        "{not json",
        call("core_memory_append", label="nonexistent", content="x"),
        reply("Sorry, done now."),
    )
    events = list(agent.chat("hello"))
    failures = [e for e in events if isinstance(e, ev.FunctionReturned) and not e.ok]
    assert len(failures) == 3
    assert "no function 'delete_everything'" in failures[0].result
    assert "invalid JSON" in failures[1].result
    assert "nonexistent" in failures[2].result
    assert all(f.heartbeat for f in failures)
    assert [e.text for e in events if isinstance(e, ev.AssistantMessage)] == ["Sorry, done now."]


def test_a_tool_exception_is_a_failure_not_a_crash(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("disk on fire")

    agent.archival.search = broken  # type: ignore[method-assign]
    backend.enqueue(call("archival_memory_search", query="x", source="any", page=1), reply("ok"))
    events = list(agent.chat("search"))
    failed = [e for e in events if isinstance(e, ev.FunctionReturned) and not e.ok]
    assert failed and "disk on fire" in failed[0].result


def test_truncated_output_is_handled(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply("x" * 5000), reply("short"))
    events = list(agent.chat("write a lot"))
    done = [e for e in events if isinstance(e, ev.StepDone)]
    assert done[0].finish_reason == "length"
    assert [e.text for e in events if isinstance(e, ev.AssistantMessage)] == ["short"]


def test_streamed_reply_equals_the_final_message(make_agent: MakeAgent) -> None:
    text = 'Line one\nShe said "hi" \\ back \u00e9\u4e2d — ok'
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply(text, thoughts='thinking "hard"'))
    events = list(agent.chat("hi"))
    streamed = "".join(e.text for e in events if isinstance(e, ev.ReplyDelta))
    thoughts = "".join(e.text for e in events if isinstance(e, ev.ThoughtDelta))
    assert streamed == text
    assert thoughts == 'thinking "hard"'
    first_reply = kinds(events).index("ReplyDelta")
    assert first_reply < kinds(events).index("FunctionCalled")  # words before the call ends


def test_user_message_during_a_chain_is_delivered_at_the_next_step(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(call("conversation_search", query="cats", page=1), reply("a"), reply("b"))
    seen: list[ev.AgentEvent] = []
    for event in agent.chat("first"):
        seen.append(event)
        if isinstance(event, ev.FunctionReturned) and event.name == "conversation_search":
            agent.submit("second, typed while busy")
    stored = [e.text for e in seen if isinstance(e, ev.UserMessageStored)]
    assert stored == ["first", "second, typed while busy"]
    # delivered before the next model call, so the second prompt contains it
    assert "second, typed while busy" in backend.calls[2].messages[-1].content


def test_cancel_between_tokens_keeps_the_user_message(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply("a long answer " * 10))
    token = CancelToken()
    events: list[ev.AgentEvent] = []
    for event in agent.chat("tell me about zebras", token):
        events.append(event)
        if isinstance(event, ev.ReplyDelta):
            token.cancel()
    assert isinstance(events[-2], ev.Cancelled)
    assert not any(isinstance(e, ev.AssistantMessage) for e in events)
    assert agent.awaiting_reply  # nothing half-written; the question is still unanswered
    assert agent.recall.search_text(agent.agent_id, "zebras", 1, 5).total == 1


def test_empty_and_huge_messages(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend(context_window=4096)
    agent = make_agent(backend)
    with pytest.raises(InputError):
        agent.submit("   ")
    paste = ("lorem ipsum dolor " * 300_000)[:5_000_000]
    events = list(agent.chat(paste))
    assert any(isinstance(e, ev.AssistantMessage) for e in events)
    stored = agent.recall.search_date(
        agent.agent_id, agent.clock.now().replace(year=2000), agent.clock.now(), 1, 50
    )
    user = [m for m in stored.items if m.kind == Kind.USER]
    assert len(user[-1].text) == 5_000_000  # every character kept in recall
    prompt = backend.calls[-1].messages
    assert backend.count_tokens(prompt) + 400 <= 4096
    assert "whole text is stored in recall memory" in prompt[-1].content


def test_every_function_is_reachable_and_schema_valid(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    steps = [
        call("core_memory_append", label="human", content="Name: Sam."),
        call("core_memory_replace", label="human", old_content="Sam", new_content="Samantha"),
        call("archival_memory_insert", content="Samantha likes tea."),
        call("archival_memory_search", query="tea", source="any", page=1),
        call("conversation_search", query="hello", page=1),
        call("conversation_search_date", start_date="2026-01-01", end_date="2026-12-31", page=1),
        {"inner_thoughts": "wait", "function": "pause_heartbeats", "arguments": {"minutes": 5}},
    ]
    backend.enqueue(*steps)
    events = list(agent.chat("hello there"))
    returned = [e for e in events if isinstance(e, ev.FunctionReturned)]
    assert [r.name for r in returned] == [s["function"] for s in steps]
    assert all(r.ok for r in returned), [r.result for r in returned if not r.ok]
    schema = backend.calls[-1].schema
    assert schema is not None
    for s in steps:
        assert validate(s, schema) == []
    assert "Samantha" in agent.memory.get("human").value
    state = agent.recall.get_state(agent.agent_id)
    assert "heartbeats_paused_until" in state.extra


def test_restart_restores_the_same_context(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply("noted"))
    list(agent.chat("my cat is Tom"))
    before = [m.content for m in agent.recall.context_messages(agent.agent_id)]
    again = make_agent(ScriptedBackend())
    assert again.agent_id == agent.agent_id
    assert [m.content for m in again.recall.context_messages(again.agent_id)] == before
    assert again.system_parts().render() == agent.system_parts().render()


def test_function_results_are_json_events(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply("ok"))
    list(agent.chat("hi"))
    result = agent.recall.context_messages(agent.agent_id)[-1]
    assert result.kind == Kind.FUNCTION_RESULT
    data = json.loads(result.content)
    assert data["type"] == "function_result" and data["status"] == "OK"


def test_a_result_too_big_for_a_small_window_is_cut_and_the_next_step_fits(
    make_agent: MakeAgent,
) -> None:
    """Eviction never moves out the current exchange, so a long search result must be cut
    when it is stored, or every later prompt of the turn overflows (the scripted backend
    raises on an overflow, as llama.cpp refuses one)."""
    backend = ScriptedBackend(context_window=2048)
    agent = make_agent(backend, context=ContextConfig(reply_tokens=600))
    for i in range(5):
        agent.archival.insert(agent.agent_id, [f"tea note {i}: " + "oolong and sencha " * 120])
    backend.enqueue(
        call("archival_memory_search", query="tea", source="any", page=1),
        reply("You wrote a lot about tea."),
    )
    events = list(agent.chat("What did I write about tea?"))
    [result] = [e for e in events if isinstance(e, ev.FunctionReturned) and e.heartbeat]
    assert result.result.startswith("page 1 of 1, total 5")  # the start is kept
    assert result.result.endswith("narrow the search or use a later page]")
    assert backend.count_tokens([ChatMessage("user", result.result)]) < 200  # not 2,000 chars
    assert [e.text for e in events if isinstance(e, ev.AssistantMessage)] == [
        "You wrote a lot about tea."
    ]
    last = backend.calls[-1]
    assert backend.count_tokens(last.messages) + last.params.max_tokens <= 2048
