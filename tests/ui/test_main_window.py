"""The window around a real worker thread, SQLite store and a scripted model."""

from __future__ import annotations

import time
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.core.messages import Kind
from app.llm.scripted import call, reply
from app.runtime import Runtime
from app.ui.composer import complete_words
from app.ui.main_window import MainWindow
from tests.ui.conftest import GREETING, SlowBackend

LONG = " ".join(f"word{i}" for i in range(110))  # send_message allows 1000 chars


def type_and_send(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.chat.input.setFocus()
    qtbot.keyClicks(window.chat.input, text)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)


def streaming(window: MainWindow) -> bool:
    """A reply is arriving: the last bubble is the agent's, unfinished, with some text."""
    last = window.chat.bubbles()[-1]
    return last.role == "assistant" and not last.final and len(last.text) > 10


def agent_id(window: MainWindow, runtime: Runtime) -> str:
    info = runtime.recall.get_agent(runtime.settings.default_agent)
    assert info is not None
    return info.id


def test_reply_streams_into_a_bubble(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    text = "The **answer** is 42, " + LONG
    backend.enqueue(reply(text, "They asked for the answer."))
    backend.delay = 0.01
    type_and_send(qtbot, window, "what is the answer?")
    assert window.chat.input.toPlainText() == ""
    qtbot.waitUntil(lambda: window.busy, timeout=2000)
    # a partial reply is on screen before the whole one arrives
    qtbot.waitUntil(lambda: 0 < len(window.chat.bubbles()[-1].text) < len(text), timeout=5000)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == text, timeout=10000)
    roles = [b.role for b in window.chat.bubbles()]
    assert roles == ["assistant", "user", "assistant"]
    last = window.chat.bubbles()[-1]
    assert last.final and "answer" in last.body.text()
    assert any(line.startswith("thought: They asked") for line in window.chat.lines())
    qtbot.waitUntil(lambda: not window.busy, timeout=2000)


def test_stop_mid_stream_drops_the_reply(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    backend.enqueue(reply(LONG))
    backend.delay = 0.02
    type_and_send(qtbot, window, "tell me a long story")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    assert window.chat.stop_button.isEnabled()
    qtbot.mouseClick(window.chat.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    last = window.chat.bubbles()[-1]
    assert "(stopped)" in last.footer.text()
    assert not last.final and len(last.text) < len(LONG)
    assert window.chat.last_reply_text() == GREETING
    fifo = runtime.recall.context_messages(agent_id(window, runtime))
    assert fifo[-1].kind == Kind.USER  # nothing of the stopped reply was stored
    assert not window.chat.stop_button.isEnabled()


def test_esc_stops(qtbot: QtBot, window: MainWindow, backend: SlowBackend) -> None:
    backend.enqueue(reply(LONG))
    backend.delay = 0.02
    type_and_send(qtbot, window, "go on")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    assert "(stopped)" in window.chat.bubbles()[-1].footer.text()


def test_message_sent_while_busy_is_queued_then_answered_in_order(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    backend.enqueue(reply("First answer. " + LONG[:200]), reply("Second answer."))
    backend.delay = 0.01
    type_and_send(qtbot, window, "first question")
    qtbot.waitUntil(lambda: window.busy, timeout=2000)
    type_and_send(qtbot, window, "second question")
    queued = window.chat.bubbles()[-1]
    assert queued.text == "second question" and queued.footer.text() == "queued"
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Second answer.", timeout=10000)
    qtbot.waitUntil(lambda: not window.busy, timeout=2000)
    shown = [(b.role, b.text.split(".")[0]) for b in window.chat.bubbles()[1:]]
    assert shown == [
        ("user", "first question"),
        ("assistant", "First answer"),
        ("user", "second question"),
        ("assistant", "Second answer"),
    ]
    assert queued.footer.text() == ""
    stored = [
        m.text
        for m in runtime.recall.context_messages(agent_id(window, runtime))
        if m.kind == Kind.USER or m.metadata.get("function") == "send_message"
    ]
    assert stored[-4:] == [
        "first question",
        "First answer. " + LONG[:200],
        "second question",
        "Second answer.",
    ]


def test_edit_core_block_saves_and_undoes(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    aid = agent_id(window, runtime)
    before = {b.label: b.value for b in runtime.recall.get_blocks(aid)}["human"]
    editor = window.memory.editors["human"]
    assert editor.counter.text().startswith(f"{len(before):,} / ")
    editor.editor.setPlainText("Name: Ada. Likes tea.")
    assert "not saved" in editor.counter.text() and editor.save.isEnabled()
    qtbot.mouseClick(editor.save, Qt.MouseButton.LeftButton)

    def human() -> str:
        return {b.label: b.value for b in runtime.recall.get_blocks(aid)}["human"]

    qtbot.waitUntil(lambda: human() == "Name: Ada. Likes tea.", timeout=3000)
    qtbot.waitUntil(lambda: window.memory.history.topLevelItemCount() == 1, timeout=3000)
    top = window.memory.history.topLevelItem(0)
    assert top.text(1) == "human" and top.text(2) == "user"
    assert not editor.dirty and not editor.save.isEnabled()
    assert "you edited core memory: human" in window.chat.lines()
    top.setSelected(True)
    assert window.memory.undo_button.isEnabled()
    qtbot.mouseClick(window.memory.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: human() == before, timeout=3000)
    qtbot.waitUntil(lambda: window.memory.history.topLevelItemCount() == 2, timeout=3000)
    assert window.memory.history.topLevelItem(0).text(2) == "undo"
    assert window.memory.history.topLevelItem(1).text(2) == "user (undone)"
    qtbot.waitUntil(lambda: editor.editor.toPlainText() == before, timeout=3000)


def test_block_over_its_limit_cannot_be_saved(window: MainWindow) -> None:
    editor = window.memory.editors["persona"]
    editor.editor.setPlainText("x" * (editor.limit + 5))
    assert "5 over the limit" in editor.counter.text()
    assert not editor.save.isEnabled()


def test_agent_memory_actions_show_as_dim_lines_with_sources(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    aid = agent_id(window, runtime)
    runtime.archival.insert(aid, ["My sister Maya lives in Lisbon."], location="notes.md")
    backend.enqueue(
        call("archival_memory_search", "Look it up.", query="sister", source="any", page=1),
        call("core_memory_append", "Save it.", label="human", content="Sister: Maya."),
        reply("Your sister Maya lives in Lisbon."),
    )
    type_and_send(qtbot, window, "where does my sister live?")
    qtbot.waitUntil(lambda: "Lisbon" in window.chat.last_reply_text(), timeout=5000)
    lines = window.chat.lines()
    assert "searched archival memory for 'sister' — 1 result" in lines
    assert "updated core memory: human" in lines
    last = window.chat.bubbles()[-1]
    qtbot.waitUntil(lambda: "Sources:" in last.footer.text(), timeout=3000)
    assert "notes.md" in last.footer.text()
    last.footer.linkActivated.emit("source:1")  # a click on [1]
    assert window.tabs.currentWidget() is window.archival
    assert window.archival.results.count() == 1
    assert window.archival.results.item(0).toolTip() == "My sister Maya lives in Lisbon."
    qtbot.waitUntil(lambda: window.memory.history.topLevelItemCount() == 1, timeout=3000)
    assert window.memory.history.topLevelItem(0).text(2) == "agent:core_memory_append"
    assert "Sister: Maya." in window.memory.editors["human"].editor.toPlainText()


def test_gauge_gets_usage_and_drops_after_summarising(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    gauge = window.context.gauge
    qtbot.waitUntil(lambda: gauge.usage is not None, timeout=3000)
    assert gauge.usage is not None and gauge.usage.window == backend.context_window
    assert "tokens" in gauge.toolTip() and "75%" in gauge.toolTip()
    for i in range(3):
        backend.enqueue(reply(f"Answer {i}. " + LONG[:300]))
        type_and_send(qtbot, window, f"question {i} " + LONG[:200])
        qtbot.waitUntil(lambda i=i: window.chat.last_reply_text().startswith(f"Answer {i}"))
        qtbot.waitUntil(lambda: not window.busy, timeout=3000)
    qtbot.waitUntil(lambda: gauge.usage is not None and gauge.usage.messages > 300, timeout=3000)
    full = gauge.usage.messages
    qtbot.mouseClick(window.context.compact_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gauge.usage.messages < full, timeout=5000)
    assert "older messages moved out" in window.context.note.text()
    assert any("moved out of the context" in line for line in window.chat.lines())
    window.context.grab()  # paints without error


def test_retry_replaces_the_last_reply(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    backend.enqueue(reply("A first try."))
    type_and_send(qtbot, window, "hello")
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "A first try.")
    qtbot.waitUntil(lambda: window.chat.composer.retry_button.isEnabled())
    backend.enqueue(reply("A second try."))
    qtbot.mouseClick(window.chat.composer.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "A second try.", timeout=5000)
    texts = [b.text for b in window.chat.bubbles()]
    assert "A first try." not in texts and texts.count("hello") == 1


def test_edit_last_message_and_resend(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    backend.enqueue(reply("About cats."))
    type_and_send(qtbot, window, "tell me about cats")
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "About cats.")
    qtbot.waitUntil(lambda: window.chat.composer.edit_button.isEnabled())
    qtbot.mouseClick(window.chat.composer.edit_button, Qt.MouseButton.LeftButton)
    assert window.chat.input.toPlainText() == "tell me about cats"
    window.chat.input.setPlainText("tell me about dogs")
    backend.enqueue(reply("About dogs."))
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "About dogs.", timeout=5000)
    texts = [b.text for b in window.chat.bubbles()]
    assert "tell me about cats" not in texts and "tell me about dogs" in texts
    users = [m.text for m in runtime.recall.context_messages(agent_id(window, runtime))]
    assert "tell me about cats" not in users


def test_shift_enter_makes_a_new_line(qtbot: QtBot, window: MainWindow) -> None:
    window.chat.input.setFocus()
    qtbot.keyClicks(window.chat.input, "one")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.chat.input, "two")
    assert window.chat.input.toPlainText() == "one\ntwo"
    assert len(window.chat.bubbles()) == 1


def test_new_agent_rename_switch_and_delete(
    qtbot: QtBot, window: MainWindow, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.agents.names() == ["engram", "new agent"], timeout=3000)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("new agent"), timeout=3000)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "OK.", timeout=3000)  # greeting
    new_id = runtime.recall.get_agent("new agent").id  # type: ignore[union-attr]
    window.requests.rename_agent.emit(new_id, "helper")
    qtbot.waitUntil(lambda: window.agents.names() == ["engram", "helper"], timeout=3000)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("helper"), timeout=3000)
    qtbot.waitUntil(lambda: not window.busy, timeout=3000)
    window.agents.list.setCurrentRow(0)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("engram"), timeout=3000)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == GREETING, timeout=3000)
    window.agents.list.setCurrentRow(1)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("helper"), timeout=3000)
    asked: list[Any] = []

    def yes(*args: Any) -> QMessageBox.StandardButton:
        asked.append(args)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    window.agents.delete_button.click()
    assert asked
    qtbot.waitUntil(lambda: window.agents.names() == ["engram"], timeout=3000)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("engram"), timeout=3000)
    assert runtime.recall.get_agent("helper") is None


def test_recall_and_archival_search(
    qtbot: QtBot, window: MainWindow, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    aid = agent_id(window, runtime)
    ids = runtime.archival.insert(
        aid, ["Maya loves pottery classes", "Tea at five"], source="journal"
    )
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.tabs.currentWidget() is window.archival
    qtbot.keyClicks(window.archival.query, "pottery")
    qtbot.keyClick(window.archival.query, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.archival.results.count() == 1, timeout=3000)
    assert "journal" in window.archival.results.item(0).text()
    window.archival.source.setCurrentText("Documents")  # re-runs the search, filtered
    qtbot.waitUntil(lambda: window.archival.results.count() == 0, timeout=3000)
    window.archival.source.setCurrentText("Journal")
    qtbot.waitUntil(lambda: window.archival.results.count() == 1, timeout=3000)
    window.archival.results.item(0).setSelected(True)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(window.archival.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.archival.results.count() == 0, timeout=3000)
    assert runtime.archival.count(aid) == 1 and ids[1] in [p.id for _, p in runtime.archival.rows]

    window.show_tab(window.recall)
    qtbot.keyClicks(window.recall.query, "Engram")  # the greeting (and the login event's hint)
    qtbot.keyClick(window.recall.query, Qt.Key.Key_Return)
    results = window.recall.results
    qtbot.waitUntil(lambda: results.count() >= 1, timeout=3000)
    lines = [results.item(i).text() for i in range(results.count())]
    assert any("assistant: Hello!" in line for line in lines)
    window.recall.search_dates.emit(
        window.recall.start.date().toPython(), window.recall.end.date().toPython(), 1
    )
    # by date: the readable messages of the day (the greeting), not heartbeats or results
    qtbot.waitUntil(lambda: window.recall.results.count() == 1, timeout=3000)


def test_model_loads_in_the_worker_while_the_window_is_usable(
    qtbot: QtBot, runtime: Runtime, settings: QSettings, backend: SlowBackend
) -> None:
    runtime.backend = None
    loaded = __import__("threading").Event()

    def load() -> SlowBackend:
        loaded.wait(5)
        return backend

    win = MainWindow(runtime, load=load, settings=settings, demo=True)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.windowTitle().startswith("engram"), timeout=3000)
    # busy arrives from the worker thread as a queued signal: wait for it, do not race it
    qtbot.waitUntil(lambda: "Loading" in win.model_label.text() and win.busy, timeout=3000)
    qtbot.waitUntil(lambda: "human" in win.memory.editors, timeout=3000)  # usable meanwhile
    type_and_send(qtbot, win, "are you there?")
    assert win.chat.bubbles()[-1].footer.text() == "queued"
    loaded.set()
    qtbot.waitUntil(lambda: "scripted" in win.model_label.text(), timeout=5000)
    assert "on CPU" in win.model_label.text()
    # one reply answers both the pending greeting and the queued message
    qtbot.waitUntil(lambda: win.chat.last_reply_text() == GREETING, timeout=5000)
    asked = [b for b in win.chat.bubbles() if b.text == "are you there?"]
    assert asked[0].final and asked[0].footer.text() == ""
    assert win.demo_banner.isVisible() and "models/README.md" in win.demo_banner.text.text()
    win.demo_banner.close_button.click()
    assert not win.demo_banner.isVisible()
    assert settings.value("demo_dismissed", False, type=bool)
    win.shutdown()


def test_a_model_that_fails_to_load_is_reported_not_fatal(
    qtbot: QtBot, runtime: Runtime, settings: QSettings
) -> None:
    from app.core.errors import ModelError

    runtime.backend = None

    def load() -> SlowBackend:
        raise ModelError("The model file /x.gguf does not exist.")

    win = MainWindow(runtime, load=load, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.error_banner.isVisible(), timeout=3000)
    assert "does not exist" in win.error_banner.text.text()
    assert win.model_label.text() == "No model loaded"
    qtbot.waitUntil(lambda: not win.busy, timeout=3000)
    type_and_send(qtbot, win, "hello?")
    qtbot.waitUntil(lambda: win.chat.bubbles()[-1].footer.text() == "not sent", timeout=3000)
    win.shutdown()


def test_close_joins_the_worker_and_remembers_geometry(
    qtbot: QtBot,
    window: MainWindow,
    settings: QSettings,
    backend: SlowBackend,
    runtime: Runtime,
) -> None:
    backend.enqueue(reply(LONG))
    backend.delay = 0.02
    type_and_send(qtbot, window, "keep talking")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    window.show_tab(window.documents_panel)
    window.close()  # while streaming
    assert not window.worker_thread.isRunning()
    assert not window.documents.worker_thread.isRunning()
    assert settings.value("geometry") is not None
    assert settings.value("last_agent") == "engram"
    again = MainWindow(runtime, settings=settings)  # not started: no threads
    qtbot.addWidget(again)
    assert again.tabs.currentWidget() is again.documents_panel
    again.shutdown()


def test_switching_agents_mid_stream_drops_the_old_run(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, runtime: Runtime
) -> None:
    backend.enqueue(reply(LONG))
    backend.delay = 0.02
    type_and_send(qtbot, window, "a long one please")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.windowTitle().startswith("new agent"), timeout=3000)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "OK.", timeout=5000)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    assert all("word1" not in b.text for b in window.chat.bubbles())
    fifo = runtime.recall.context_messages(agent_id(window, runtime))
    assert fifo[-1].text == "a long one please"  # the abandoned reply was never stored


def test_heartbeat_wakes_the_agent(qtbot: QtBot, window: MainWindow, backend: SlowBackend) -> None:
    backend.enqueue(reply("Just checking in."))
    window.requests.heartbeat.emit()
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Just checking in.", timeout=5000)


def test_run_gui_shows_the_window_then_loads_the_model(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    import app.runtime
    from app.memory.embedder import HashEmbedder
    from app.ui.app import run_gui

    monkeypatch.setattr("app.memory.embedder.MiniLMEmbedder", HashEmbedder)
    monkeypatch.setattr(
        app.runtime, "load_backend", lambda settings, model=None: SlowBackend([reply("Hi there.")])
    )
    seen: dict[str, Any] = {}

    def exec_until_greeted() -> int:
        shown = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()
        ]
        seen["windows"] = len(shown)
        win = shown[0]
        loop = QEventLoop()
        timer = QTimer()
        timer.timeout.connect(lambda: win.chat.last_reply_text() and loop.quit())
        timer.start(20)
        QTimer.singleShot(10_000, loop.quit)
        loop.exec()
        timer.stop()
        seen["reply"] = win.chat.last_reply_text()
        seen["demo"] = win.demo_banner.isVisible()
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", lambda self: exec_until_greeted())
    assert run_gui([]) == 0
    assert seen == {"windows": 1, "reply": "Hi there.", "demo": True}


def test_stop_with_a_message_queued_stops_once_then_answers_it(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    backend.enqueue(reply(LONG), reply("Now the second."))
    backend.delay = 0.03  # longer than one time slice per chunk
    type_and_send(qtbot, window, "first")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    type_and_send(qtbot, window, "second")
    assert window.chat.bubbles()[-1].footer.text() == "queued"
    qtbot.mouseClick(window.chat.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Now the second.", timeout=10000)
    qtbot.waitUntil(lambda: not window.busy, timeout=3000)
    stopped = [b for b in window.chat.bubbles() if "(stopped)" in b.footer.text()]
    assert len(stopped) == 1 and "(stopped)" not in window.chat.lines()
    assert [b.text for b in window.chat.bubbles() if b.role == "user"] == ["first", "second"]


def test_several_queued_messages_keep_their_order(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    backend.enqueue(reply(LONG))
    backend.delay = 0.02
    type_and_send(qtbot, window, "zero")
    qtbot.waitUntil(lambda: streaming(window), timeout=5000)
    for text in ("one", "two", "three"):
        type_and_send(qtbot, window, text)
    queued = window.chat.bubbles()[-3:]
    assert [(b.text, b.footer.text()) for b in queued] == [
        ("one", "queued"),
        ("two", "queued"),
        ("three", "queued"),
    ]
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "OK.", timeout=10000)
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)
    users = [b for b in window.chat.bubbles() if b.role == "user"]
    assert [b.text for b in users] == ["zero", "one", "two", "three"]
    assert all(b.final and b.footer.text() == "" for b in users)
    assert window.chat.bubbles()[-1].text == "OK."


def test_a_new_agent_starts_from_the_chosen_template(
    qtbot: QtBot, window: MainWindow, runtime: Runtime
) -> None:
    from app.core.memory import CoreMemory
    from app.core.prompts import AGENT_TEMPLATES

    qtbot.waitUntil(lambda: window.model_ready and not window.busy, timeout=5000)
    window.agents.template.setCurrentText("Journal partner")
    window.agents.new_button.click()
    qtbot.waitUntil(lambda: runtime.recall.get_agent("new agent") is not None, timeout=3000)
    info = runtime.recall.get_agent("new agent")
    assert info is not None
    persona = CoreMemory(info.id, runtime.recall, runtime.clock).get("persona").value
    assert persona == AGENT_TEMPLATES["Journal partner"][0]
    qtbot.waitUntil(lambda: not window.busy, timeout=5000)


def test_idle_time_prefills_the_next_prompt_and_a_message_stops_it(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: len(backend.prefills) == 1, timeout=5000)  # after the greeting
    head = backend.prefills[-1]
    backend.enqueue(reply("Hi Sam."))
    type_and_send(qtbot, window, "I am Sam")
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Hi Sam.", timeout=5000)
    assert "\n".join(m.content for m in backend.calls[-1].messages).startswith(head)

    progress: list[int] = []

    def slow_prefill(messages: Any, *, upto: str) -> Any:
        try:
            for batch in range(500):
                time.sleep(0.01)
                progress.append(batch)
                yield batch
        finally:
            progress.append(-1)  # stopped or done

    monkeypatch.setattr(backend, "prefill", slow_prefill)
    backend.enqueue(reply("Maya, noted."))
    type_and_send(qtbot, window, "My sister is Maya")
    qtbot.waitUntil(lambda: len(progress) > 3, timeout=5000)  # idle again: a long prefill runs
    assert window.chat.input.isEnabled() and not window.busy  # and the window stays usable
    backend.enqueue(reply("Chess, nice."))
    type_and_send(qtbot, window, "My brother plays chess")
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "Chess, nice.", timeout=5000)
    stopped = progress.index(-1)
    assert stopped < 400  # the message stopped it between batches, not after all 500


def test_words_typed_are_prefilled_before_enter(
    qtbot: QtBot, window: MainWindow, backend: SlowBackend
) -> None:
    qtbot.waitUntil(lambda: len(backend.prefills) == 1, timeout=5000)  # after the greeting
    window.chat.input.setFocus()
    qtbot.keyClicks(window.chat.input, "My sister Maya is a nur")
    qtbot.waitUntil(
        lambda: backend.prefills[-1].endswith('"message":"My sister Maya is a'), timeout=5000
    )  # a pause in typing: the complete words, not the one being typed
    head = backend.prefills[-1]
    backend.enqueue(reply("A nurse, noted."))
    qtbot.keyClicks(window.chat.input, "se.")
    qtbot.keyClick(window.chat.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat.last_reply_text() == "A nurse, noted.", timeout=5000)
    sent = "\n".join(m.content for m in backend.calls[-1].messages)
    assert sent.startswith(head)
    assert sent[len(head) :].startswith(' nurse."}')
    qtbot.waitUntil(lambda: backend.prefills[-1].endswith('"message":"'), timeout=5000)


@pytest.mark.parametrize(
    ("typed", "words"),
    [("", ""), ("Hello", ""), ("Hello wor", "Hello"), ("Hello world ", "Hello world"),
     ("two\nlines he", "two\nlines")],
)  # fmt: skip
def test_only_complete_words_are_a_draft(typed: str, words: str) -> None:
    assert complete_words(typed) == words
