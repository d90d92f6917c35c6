"""Bulk destructive core-memory edits by the model are held as proposals, not applied.

Runs the real agent loop over real SQLite with a scripted backend that asks for the edits.
"""

from __future__ import annotations

import io

import pytest

from app.core import events as ev
from app.core.agent import Agent
from app.core.errors import InputError
from app.core.proposals import BULK_MIN_CHARS, is_bulk_removal, removed_chars
from app.llm.scripted import ScriptedBackend, call, reply
from app.memory.sqlite_store import SqliteStore
from app.terminal import TerminalChat
from tests.core.conftest import MakeAgent

FACTS = (
    "The user's name is Ada Lovelace. She lives in Porto with her brother Tiago, who plays the "
    "cello. She is allergic to peanuts and works nights at the observatory."
)


def _agent_knowing_facts(make_agent: MakeAgent, backend: ScriptedBackend) -> Agent:
    agent = make_agent(backend)
    agent.memory.set("human", FACTS, actor="user")
    return agent


def _run(agent: Agent, backend: ScriptedBackend, *steps: dict[str, object]) -> list[object]:
    backend.enqueue(*steps, reply("Done."))
    return list(agent.chat("Please tidy your memory."))


def test_removal_measure() -> None:
    assert removed_chars("abc", "xxabcxx") == 0
    assert removed_chars("hello world", "") == len("hello world")
    assert removed_chars(FACTS, FACTS.replace("Porto", "Lisbon")) == len("Porto") - 1  # 'o'
    assert is_bulk_removal(FACTS, "")
    assert not is_bulk_removal(FACTS, FACTS + " She likes tea.")
    short = "Nothing is known about the user yet. I should learn their name."
    assert len(short) < BULK_MIN_CHARS and not is_bulk_removal(short, "Name: Ada.")


def test_wiping_a_block_is_held_as_a_proposal(make_agent: MakeAgent, store: SqliteStore) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    events = _run(
        agent,
        backend,
        call("core_memory_replace", label="human", old_content=FACTS, new_content="Unknown."),
    )
    proposed = [e for e in events if isinstance(e, ev.MemoryProposed)]
    assert len(proposed) == 1 and proposed[0].new_value == "Unknown."
    assert not [e for e in events if isinstance(e, ev.MemoryEdited)]
    returned = next(e for e in events if isinstance(e, ev.FunctionReturned))
    assert "Not applied" in returned.result and f"#{proposed[0].proposal_id}" in returned.result
    assert agent.memory.get("human").value == FACTS
    assert store.get_blocks(agent.agent_id)[1].value == FACTS  # nothing written to disk
    assert [p.id for p in agent.memory.proposals()] == [proposed[0].proposal_id]


def test_proposals_survive_a_restart_and_can_be_rejected(
    make_agent: MakeAgent, store: SqliteStore
) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    _run(
        agent,
        backend,
        call("core_memory_replace", label="human", old_content=FACTS, new_content=""),
    )
    again = make_agent(ScriptedBackend())  # a new Agent object reads the same store
    (pending,) = again.memory.proposals()
    rejected = again.memory.reject(pending.id)
    assert rejected.old_value == FACTS
    assert again.memory.proposals() == []
    assert again.memory.get("human").value == FACTS
    with pytest.raises(InputError):
        again.memory.reject(pending.id)


def test_accepting_applies_it_as_the_users_edit_and_undo_restores(
    make_agent: MakeAgent,
) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    _run(
        agent,
        backend,
        call("core_memory_replace", label="human", old_content=FACTS, new_content="Ada, Porto."),
    )
    (pending,) = agent.memory.proposals()
    edit = agent.memory.accept(pending.id)
    assert edit.actor == "user" and agent.memory.get("human").value == "Ada, Porto."
    assert agent.memory.proposals() == []
    agent.memory.undo()
    assert agent.memory.get("human").value == FACTS


def test_a_stale_proposal_is_refused_and_dropped(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    _run(
        agent,
        backend,
        call("core_memory_replace", label="human", old_content=FACTS, new_content=""),
    )
    agent.memory.set("human", FACTS + " She likes tea.", actor="user")
    (pending,) = agent.memory.proposals()
    with pytest.raises(InputError, match="no longer applies"):
        agent.memory.accept(pending.id)
    assert agent.memory.proposals() == []
    assert agent.memory.get("human").value.endswith("She likes tea.")


def test_small_edits_and_user_edits_apply_directly(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    events = _run(
        agent,
        backend,
        call("core_memory_replace", label="human", old_content="Porto", new_content="Lisbon"),
        call("core_memory_append", label="human", content="She likes tea."),
    )
    assert len([e for e in events if isinstance(e, ev.MemoryEdited)]) == 2
    assert "Lisbon" in agent.memory.get("human").value
    agent.memory.set("human", "", actor="user")  # the user may wipe their own memory
    assert agent.memory.get("human").value == ""
    assert agent.memory.proposals() == []


def test_a_wipe_split_into_small_calls_is_caught(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    sentences = [s + "." for s in FACTS.rstrip(".").split(". ")]
    steps = [
        call("core_memory_replace", label="human", old_content=s, new_content="") for s in sentences
    ]
    events = _run(agent, backend, *steps)
    assert [e for e in events if isinstance(e, ev.MemoryProposed)]
    value = agent.memory.get("human").value
    assert value and removed_chars(FACTS, value) < BULK_MIN_CHARS  # the rest was held
    for _ in range(len(sentences)):  # and the small steps that did apply are undoable
        agent.memory.undo()
        if agent.memory.get("human").value == FACTS:
            break
    assert agent.memory.get("human").value == FACTS


def test_the_terminal_shows_and_settles_proposals(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = _agent_knowing_facts(make_agent, backend)
    backend.enqueue(
        call("core_memory_replace", label="human", old_content=FACTS, new_content="?"),
        reply("Done."),
        call("core_memory_replace", label="human", old_content=FACTS, new_content="!"),
        reply("Done again."),
    )
    out = io.StringIO()
    chat = TerminalChat(agent, agents=lambda: ["test"], out=out)
    lines = [
        "forget me",
        "/proposals",
        "/proposals reject 1",
        "forget me now",
        "/proposals accept 2",
    ]
    chat.loop(iter(lines), interactive=False)
    text = out.getvalue()
    assert "'/proposals accept 1'" in text
    assert "#1 human by agent:core_memory_replace: '?'" in text
    assert "rejected; human unchanged" in text
    assert "applied to human" in text
    assert agent.memory.get("human").value == "!" and agent.memory.proposals() == []
