"""The terminal chat over a scripted model and real SQLite: every slash command, bad lines."""

from __future__ import annotations

import io

from app.core.messages import Kind
from app.llm.scripted import ScriptedBackend, call, reply
from app.terminal import TerminalChat
from tests.core.conftest import MakeAgent


def session(make_agent: MakeAgent, script: list[object], lines: list[str]) -> str:
    backend = ScriptedBackend()
    agent = make_agent(backend)  # greets first
    backend.enqueue(*script)  # type: ignore[arg-type]
    out = io.StringIO()
    chat = TerminalChat(agent, agents=lambda: ["test", "work"], out=out)
    assert chat.loop(iter(line + "\n" for line in lines), interactive=False) == 0
    return out.getvalue()


def test_a_piped_session_streams_the_reply_and_lists_memory(make_agent: MakeAgent) -> None:
    script = [
        call("core_memory_append", label="human", content="Name: Sam."),
        reply("Nice to meet you, Sam."),
    ]
    text = session(make_agent, script, ["hi, I am Sam", "/memory", "/exit", "never read"])
    assert "engram> Nice to meet you, Sam." in text
    assert "(memory: human updated by" in text
    assert "[human]" in text and "Name: Sam." in text
    assert "recall: " in text and "context: " in text
    assert "never read" not in text  # /exit stops reading


def test_search_pop_retry_rewrite_and_undo(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(
        call("core_memory_append", label="human", content="Likes oolong."),
        reply("Noted: oolong."),
        reply("Second answer."),
    )
    out = io.StringIO()
    chat = TerminalChat(agent, agents=lambda: ["test"], out=out)
    lines = ["my tea is oolong", "/search oolong", "/retry", "/rewrite Better answer."]
    chat.loop(iter(lines), interactive=False)
    text = out.getvalue()
    assert "total 2" in text  # the user's line and the reply both mention oolong
    assert "engram> Second answer." in text
    calls = [
        m for m in agent.recall.context_messages(agent.agent_id) if m.kind == Kind.FUNCTION_CALL
    ]
    assert "Better answer." in calls[-1].content
    chat.loop(iter(["/undo", "/pop", "/agents", "/bogus"]), interactive=False)
    text = out.getvalue()
    assert "undid an edit of human" in text and "Likes oolong" not in agent.memory.render()
    assert "removed " in text and "  test" in text and "unknown command /bogus" in text
    assert agent.recall.search_text(agent.agent_id, "Better", 1, 5).total == 0


def test_bad_lines_get_one_sentence_and_lose_nothing(make_agent: MakeAgent) -> None:
    text = session(make_agent, [], ["   ", "/undo", "/pop notanumber", "still here"])
    assert "(empty message" in text
    assert "error: " in text  # nothing to undo: a message, not a traceback
    assert "usage: /pop [N]" in text
    assert "you> still here" in text and "engram> OK." in text


def test_summarize_and_heartbeat_run_the_agent(make_agent: MakeAgent) -> None:
    script = [reply("one"), reply("two"), "A short summary of the talk.", reply("awake")]
    text = session(make_agent, script, ["a", "b", "/summarize", "/heartbeat"])
    assert "engram> awake" in text


def test_between_turns_the_next_prompt_head_is_prefilled(make_agent: MakeAgent) -> None:
    backend = ScriptedBackend()
    agent = make_agent(backend)
    backend.enqueue(reply("Hi Sam."), reply("Maya, noted."))
    chat = TerminalChat(agent, agents=lambda: ["test"], out=io.StringIO())
    chat.loop(iter(["I am Sam", "My sister is Maya"]), interactive=False)
    assert len(backend.prefills) == 3  # at the start and after each line
    second_prompt = "\n".join(m.content for m in backend.calls[-1].messages)
    assert second_prompt.startswith(backend.prefills[1])
