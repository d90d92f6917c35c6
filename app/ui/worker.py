"""The one thread that owns the model: `AgentWorker` lives in its own QThread and drives the agent.

The agent loop is a generator; the worker steps it from a zero-interval timer in small time
slices (`RunPump`), so its thread's event loop stays live between tokens: a stop, a queued
message or a memory edit sent from the window is handled at the next slice (napari's
`qt_histogram`, superqt's `GeneratorWorker`). Every run carries a generation number; a stopped
or abandoned run is stale and its results never reach the window, only the facts it stored
(messages, memory edits) do. The window talks to the worker only through queued signals; the one
exception is `cancel_now()`, which sets the thread-safe CancelToken so the loop stops between
tokens even while one slice is busy. `processEvents()` is never called.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from PySide6.QtCore import QThread, QTimer, Signal, Slot

from app.config import Settings
from app.core import events as ev
from app.core import history
from app.core.agent import Agent
from app.core.bootstrap import create_agent, get_or_create_agent
from app.core.errors import EngramError, InputError
from app.core.memory import CoreMemory
from app.core.messages import AgentInfo, Kind
from app.core.prompts import AGENT_TEMPLATES, DEFAULT_HUMAN, DEFAULT_PERSONA
from app.core.protocols import ChatBackend
from app.runtime import Runtime, load_backend
from app.ui.describe import describe_backend
from app.ui.recording import RecordingArchival
from app.ui.run_pump import Events, Run, RunPump, reports_errors
from app.ui.snapshots import memory_snapshot, transcript

log = logging.getLogger("engram.ui")


class AgentWorker(RunPump):
    """Owns the Runtime's model and agents; moved to a QThread by the window."""

    model_loaded = Signal(str)  # "SmolLM2 — on CPU, 8,192 tokens of context"
    model_failed = Signal(str)  # why no model could be loaded
    agents = Signal(object)  # list[AgentInfo]
    agent_changed = Signal(object)  # AgentInfo
    transcript = Signal(object)  # Transcript
    memory = Signal(object)  # MemorySnapshot
    sources = Signal(int, object)  # message id, tuple[Passage, ...]
    unsent = Signal(str)  # a message that could not be queued

    def __init__(self, runtime: Runtime, load: Callable[[], ChatBackend] | None = None) -> None:
        super().__init__()
        self._runtime = runtime
        self._load = load
        self._held: list[str] = []  # sent while a stopped run drains
        self._undelivered: Counter[str] = Counter()
        self._agents: dict[str, Agent] = {}
        self._info: AgentInfo | None = None
        self.load_for: Callable[[Settings], ChatBackend] = load_backend  # a reload's loader

    # ---- lifecycle ---------------------------------------------------------------------
    @Slot(str)
    @reports_errors
    def start(self, agent_name: str) -> None:
        """Show the stored agent at once, then load the model (the window is usable meanwhile)."""
        rt = self._runtime
        info = rt.recall.get_agent(agent_name) if agent_name else None
        if info is None:
            info, _ = get_or_create_agent(rt.recall, rt.clock, rt.settings.default_agent)
        self.agents.emit(rt.recall.list_agents())
        self._select(info)
        if rt.backend is None and self._load is not None:
            self._set_busy(True)
            rt.backend = self._load_model(self._load)
        if rt.backend is None or self._closing:
            return
        self.model_loaded.emit(describe_backend(rt.backend))
        self._activate()

    def _load_model(self, load: Callable[[], ChatBackend]) -> ChatBackend | None:
        try:
            return load()
        except EngramError as err:
            message = err.user_message
        except Exception as err:  # ImportError, llama.cpp's ValueError…: say it, keep the UI
            log.exception("loading the model failed")
            message = f"The model could not be loaded: {type(err).__name__}: {err}"
        self.model_failed.emit(message)
        self.error.emit(message)
        return None

    @Slot(object, bool)
    @reports_errors
    def apply_settings(self, settings: Settings, reload: bool) -> None:
        """Use new settings from now on; with `reload`, close the model and load the one they
        name (in this thread: the window stays usable, its requests wait for the load)."""
        rt = self._runtime
        self._abandon()
        rt.settings = settings
        self._agents.clear()  # rebuilt with the new temperature and model
        if not reload and rt.backend is not None:
            self._activate()
            return
        old, rt.backend = rt.backend, None
        closer = getattr(old, "close", None)
        if callable(closer):
            closer()
        self._set_busy(True)
        rt.backend = self._load_model(lambda: self.load_for(settings))
        if rt.backend is None or self._closing:
            return
        self.model_loaded.emit(describe_backend(rt.backend))
        self._activate()

    @Slot()
    def shutdown(self) -> None:
        """Abandon any run and end this thread's event loop (the window then joins it)."""
        self._closing = True
        self._abandon()
        self._pump.stop()
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    # ---- conversation ------------------------------------------------------------------
    @Slot(str)
    def send(self, text: str) -> None:
        agent = self._current_agent()
        if agent is None:
            self.unsent.emit(text)
            self.error.emit("No model is loaded, so the message was not sent.")
            return
        if self._run is not None and self._run.stopping:
            self._held.append(text)
            return
        try:
            agent.submit(text)
        except EngramError as err:
            self.unsent.emit(text)
            self.error.emit(err.user_message)
            return
        self._undelivered[agent.agent_id] += 1
        if self._run is None:
            self._run_agent(agent.run(self._token))

    @Slot()
    @reports_errors
    def retry(self) -> None:
        agent = self._require_agent()
        self._abandon()
        history.prepare_retry(agent.recall, agent.agent_id)
        self._emit_transcript()
        self._run_agent(agent.run(self._token))

    @Slot(str)
    @reports_errors
    def edit_last_and_resend(self, text: str) -> None:
        agent = self._require_agent()
        if not text.strip():
            raise InputError("The message is empty; type something to send.")
        self._abandon()
        history.pop(agent.recall, agent.agent_id, 1)
        agent.submit(text)
        self._undelivered[agent.agent_id] += 1
        self._emit_transcript()
        self._run_agent(agent.run(self._token))

    @Slot()
    @reports_errors
    def heartbeat(self) -> None:
        agent = self._require_idle_agent()
        self._run_agent(agent.heartbeat("The user asked you to check in.", self._token))

    @Slot()
    @reports_errors
    def compact(self) -> None:
        agent = self._require_idle_agent()
        self._run_agent(agent.compact())

    # ---- core memory -------------------------------------------------------------------
    @Slot(str, str)
    @reports_errors
    def set_block(self, label: str, value: str) -> None:
        edit = self._core_memory().set(label, value, actor="user")
        self.event.emit(ev.MemoryEdited(label, edit.id, edit.actor, edit.old_value, value))
        self.refresh_memory()
        self._emit_usage()

    @Slot(int)
    @reports_errors
    def undo(self, edit_id: int) -> None:
        edit = self._core_memory().undo(edit_id)
        self.event.emit(
            ev.MemoryEdited(edit.label, edit.id, edit.actor, edit.old_value, edit.new_value)
        )
        self.refresh_memory()
        self._emit_usage()

    @Slot(int, bool)
    @reports_errors
    def settle_proposal(self, proposal_id: int, accepted: bool) -> None:
        """The user's answer to a held bulk edit: apply it (undoable) or drop it."""
        memory = self._core_memory()
        if not accepted:
            memory.reject(proposal_id)
            return
        edit = memory.accept(proposal_id)
        self.event.emit(
            ev.MemoryEdited(edit.label, edit.id, edit.actor, edit.old_value, edit.new_value)
        )
        self.refresh_memory()
        self._emit_usage()

    # ---- agents ------------------------------------------------------------------------
    @Slot(str)
    @reports_errors
    def switch_agent(self, name_or_id: str) -> None:
        info = self._runtime.recall.get_agent(name_or_id)
        if info is None:
            raise InputError(f"There is no agent called '{name_or_id}'.")
        if self._info is not None and info.id == self._info.id:
            return
        self._abandon()
        self._select(info)
        self._activate()

    @Slot(str, str)
    @reports_errors
    def create_agent(self, name: str, template: str = "") -> None:
        rt = self._runtime
        persona, human = AGENT_TEMPLATES.get(template, (DEFAULT_PERSONA, DEFAULT_HUMAN))
        info = create_agent(rt.recall, rt.clock, name.strip(), persona=persona, human=human)
        self.agents.emit(rt.recall.list_agents())
        self.switch_agent(info.id)

    @Slot(str, str)
    @reports_errors
    def rename_agent(self, agent_id: str, name: str) -> None:
        rt = self._runtime
        try:
            rt.recall.rename_agent(agent_id, name.strip())
        finally:  # on failure too: the list shows the name it typed, put the real one back
            self.agents.emit(rt.recall.list_agents())
        if self._info is not None and self._info.id == agent_id:
            self._info = rt.recall.get_agent(agent_id)
            self.agent_changed.emit(self._info)

    @Slot(str)
    @reports_errors
    def delete_agent(self, agent_id: str) -> None:
        rt = self._runtime
        current = self._info is not None and self._info.id == agent_id
        if current:
            self._abandon()
        rt.recall.delete_agent(agent_id)
        self._agents.pop(agent_id, None)
        forget = getattr(rt.archival, "delete_agent", None)  # optional on the store
        if callable(forget):
            forget(agent_id)
        if current:
            remaining = rt.recall.list_agents()
            info = remaining[0] if remaining else None
            if info is None:
                info, _ = get_or_create_agent(rt.recall, rt.clock, rt.settings.default_agent)
            self._info = None
            self._select(info)
            self._activate()
        self.agents.emit(rt.recall.list_agents())

    # ---- running the agent (RunPump hooks) --------------------------------------------
    def _run_agent(self, events: Events) -> None:
        assert self._info is not None
        self._start_run(self._info.id, events)

    def _observe(self, run: Run, event: ev.AgentEvent) -> None:
        if isinstance(event, ev.UserMessageStored):
            self._undelivered[run.agent_id] = max(0, self._undelivered[run.agent_id] - 1)

    def _emitted(self, event: ev.AgentEvent) -> None:
        if isinstance(event, ev.MemoryEdited | ev.Evicted):
            self.refresh_memory()
        if isinstance(event, ev.AssistantMessage) and event.sources:
            agent = self._current_agent()
            archival = agent.archival if agent is not None else None
            if isinstance(archival, RecordingArchival):
                self.sources.emit(event.message_id, archival.passages(event.sources))

    def _after_run(self, run: Run) -> bool:
        """Refresh the gauge and memory; answer what was sent meanwhile, in a new run."""
        self._emit_usage()
        self.refresh_memory()
        agent = self._current_agent()
        if agent is None or agent.agent_id != run.agent_id:
            return False
        held, self._held = self._held, []
        for text in held:
            try:
                agent.submit(text)
                self._undelivered[agent.agent_id] += 1
            except EngramError as err:
                self.unsent.emit(text)
                self.error.emit(err.user_message)
        if self._undelivered[agent.agent_id] == 0:
            return False
        # Posted, not started here: a Stop the window sent for the run that just ended is
        # already queued and must be handled before the next run exists.
        QTimer.singleShot(0, self, self._follow_up)
        return True

    def _follow_up(self) -> None:
        agent = self._current_agent()
        if self._run is None and agent is not None and self._undelivered[agent.agent_id] > 0:
            self._run_agent(agent.run(self._token))
        if self._run is None:
            self._set_busy(False)

    def _abandon(self) -> None:
        run = self._run
        if run is not None and isinstance(run.last, ev.UserMessageStored):
            # closed while delivering: that batch emptied the inbox, some events unseen
            self._undelivered[run.agent_id] = 0
        self._held.clear()
        super()._abandon()

    # ---- agents and snapshots ----------------------------------------------------------
    def _select(self, info: AgentInfo) -> None:
        self._info = info
        self.agent_changed.emit(info)
        self._emit_transcript()
        self.refresh_memory()

    def _activate(self) -> None:
        """With a model: build the agent, show its context, greet or answer what waits."""
        agent = self._current_agent()
        if agent is None:
            return
        self._emit_usage()
        fifo = agent.recall.context_messages(agent.agent_id)
        greeting = bool(fifo) and fifo[-1].kind == Kind.LOGIN
        if greeting or self._undelivered[agent.agent_id] > 0:
            self._run_agent(agent.run(self._token))

    def _current_agent(self) -> Agent | None:
        if self._info is None or self._runtime.backend is None:
            return None
        agent = self._agents.get(self._info.id)
        if agent is None:
            agent, _ = self._runtime.agent(self._info.id)
            agent.archival = RecordingArchival(agent.archival)
            self._agents[self._info.id] = agent
        return agent

    def _require_agent(self) -> Agent:
        agent = self._current_agent()
        if agent is None:
            raise InputError("No model is loaded yet.")
        return agent

    def _require_idle_agent(self) -> Agent:
        if self._run is not None:
            raise InputError("The agent is busy; wait for it or press Stop.")
        return self._require_agent()

    def _agent_id(self) -> str:
        if self._info is None:
            raise InputError("No agent is selected.")
        return self._info.id

    def _core_memory(self) -> CoreMemory:
        agent = self._current_agent()
        if agent is not None:
            return agent.memory
        rt = self._runtime
        return CoreMemory(self._agent_id(), rt.recall, rt.clock)

    def _emit_usage(self) -> None:
        agent = self._current_agent()
        if agent is not None:
            self.usage.emit(agent.context_usage())

    @Slot()
    def refresh_memory(self) -> None:
        """Send a fresh MemorySnapshot (after archival passages were deleted, say)."""
        if self._info is not None:
            rt = self._runtime
            self.memory.emit(memory_snapshot(rt.recall, rt.archival, self._info.id))

    def _emit_transcript(self) -> None:
        if self._info is not None:
            self.transcript.emit(transcript(self._runtime.recall, self._info.id))
