"""A bulk core-memory wipe by the model shows up as a card; the user's choice is applied."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.core.memory import CoreMemory
from app.llm.scripted import call, reply
from app.runtime import Runtime
from app.ui.main_window import MainWindow
from app.ui.proposal_card import ProposalCard
from tests.ui.conftest import SlowBackend
from tests.ui.test_main_window import agent_id, type_and_send


def memory(runtime: Runtime, aid: str) -> CoreMemory:
    return CoreMemory(aid, runtime.recall, runtime.clock)


def wipe_persona(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> tuple[ProposalCard, str]:
    qtbot.waitUntil(lambda: window.model_ready and not window.busy, timeout=5000)
    aid = agent_id(window, runtime)
    persona = memory(runtime, aid).get("persona").value
    backend.enqueue(
        call("core_memory_replace", label="persona", old_content=persona, new_content="x"),
        reply("Done."),
    )
    type_and_send(qtbot, window, "forget who you are")
    qtbot.waitUntil(lambda: bool(window.chat.findChildren(ProposalCard)), timeout=5000)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    assert memory(runtime, aid).get("persona").value == persona  # held
    assert any("waiting for you" in line for line in window.chat.lines())
    assert not any(line.startswith("updated core memory") for line in window.chat.lines())
    return window.chat.findChildren(ProposalCard)[0], aid


def test_rejecting_keeps_the_block(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    card, aid = wipe_persona(qtbot, window, backend, runtime)
    before = memory(runtime, aid).get("persona").value
    card.reject_button.click()
    qtbot.waitUntil(lambda: not memory(runtime, aid).proposals(), timeout=3000)
    assert memory(runtime, aid).get("persona").value == before
    assert not card.accept_button.isEnabled()


def test_accepting_applies_it_and_the_panel_follows(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    card, aid = wipe_persona(qtbot, window, backend, runtime)
    card.accept_button.click()
    # the worker applies the edit, then settles the proposal: wait for both
    qtbot.waitUntil(lambda: not memory(runtime, aid).proposals(), timeout=3000)
    assert memory(runtime, aid).get("persona").value == "x"
    editor = window.memory.editors["persona"]
    qtbot.waitUntil(lambda: editor.editor.toPlainText() == "x", timeout=3000)
