"""The one thread that owns the model: `AgentWorker` lives in its own QThread and drives the agent.

The agent loop is a generator; the worker steps it from a zero-interval timer in small time
slices (`RunPump`), so its thread's event loop stays live between tokens: a stop, a queued
message or a memory edit sent from the window is handled at the next slice (napari's
`qt_histogram`, superqt's `GeneratorWorker`). Every run carries a generation number; a stopped
or abandoned run is stale and its results never reach the window, only the facts it stored
(messages, memory edits) do. The window talks to the worker only through queued signals; the one
exception is `cancel_now()`, which sets the thread-safe CancelToken so the loop stops between
tokens even while one slice is busy. `processEvents()` is never called.

The model's other work, journal reviews and follow-up questions, runs here too: queued as jobs
that start only when no run is left, one per event-loop pass, so they never interleave with a
turn and a message sent meanwhile goes first. Stop (`cancel_now`) and closing the window end a
running job between tokens, through the same token.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter, deque
from collections.abc import Callable, Generator
from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import QThread, QTimer, Signal, Slot

from app.config import Settings
from app.core import events as ev
from app.core import history
from app.core.agent import Agent
from app.core.bootstrap import create_agent, get_or_create_agent
from app.core.errors import EngramError, InputError
from app.core.journal import (
    JournalError,
    JournalSettings,
    ReviewKind,
    ReviewPeriod,
    catch_up_reviews,
    due_reviews,
    follow_up_question,
    write_review,
)
from app.core.memory import CoreMemory
from app.core.messages import AgentInfo, Kind
from app.core.prompts import AGENT_TEMPLATES, DEFAULT_HUMAN, DEFAULT_PERSONA
from app.core.protocols import ChatBackend
from app.runtime import Runtime, load_backend
from app.ui.describe import describe_backend
from app.ui.recording import RecordingArchival
from app.ui.run_pump import Events, Run, RunPump, reports_errors
from app.ui.snapshots import memory_snapshot, transcript

if TYPE_CHECKING:
    from app.memory.journal_store import JournalStore

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
    review_written = Signal(object)  # journal Review
    follow_up_ready = Signal(int, str)  # entry id, question ("" when there is none)
    journal_failed = Signal(str, str)  # "review" or "follow_up", why it could not be done

    def __init__(self, runtime: Runtime, load: Callable[[], ChatBackend] | None = None) -> None:
        super().__init__()
        self._runtime = runtime
        self._load = load
        self._held: list[str] = []  # sent while a stopped run drains
        self._undelivered: Counter[str] = Counter()
        self._agents: dict[str, Agent] = {}
        self._info: AgentInfo | None = None
        self.load_for: Callable[[Settings], ChatBackend] = load_backend  # a reload's loader
        self._jobs: deque[tuple[str, Callable[[], None]]] = deque()  # model work waiting for no run
        self._journal: JournalStore | None = None
        self._reviewed: set[str] = set()  # agents whose due reviews this launch has queued
        self._prefill: Generator[int, None, None] | None = None  # next prompt head
        self._draft = ""  # the complete words typed so far (`draft`)

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
        self._jobs.clear()
        self._pump.stop()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    # ---- conversation ------------------------------------------------------------------
    @Slot(str)
    def draft(self, text: str) -> None:
        """The words typed so far (after a pause): while idle, prefill through them too."""
        if text == self._draft:
            return
        self._draft = text
        if self._idle:
            self._start_prefill()

    @Slot(str)
    def send(self, text: str) -> None:
        self._draft = ""
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

    # ---- journal reflection (the model's other work) ----------------------------------
    # A review or follow-up uses the model, so it runs here, never beside a turn: it waits in
    # `_jobs` until no run is left and is started from the event loop, one per pass, so a
    # message sent meanwhile starts its turn before the next job.
    @Slot(str, str)
    def write_review(self, kind: str, start_iso: str) -> None:
        """Write (or rewrite) the review of the week or month containing `start_iso`."""
        try:
            if kind not in ("weekly", "monthly"):
                raise InputError(f"There is no '{kind}' review; ask for weekly or monthly.")
            review_kind: ReviewKind = "weekly" if kind == "weekly" else "monthly"
            period = ReviewPeriod.containing(review_kind, date.fromisoformat(start_iso))
        except (EngramError, ValueError) as err:
            self.journal_failed.emit("review", _sentence(err))
            return
        self._queue_job("review", lambda: self._write_review(period))

    @Slot(int)
    def follow_up(self, entry_id: int) -> None:
        """Ask the model for one follow-up question about a saved entry."""
        self._queue_job("follow_up", lambda: self._follow_up_question(entry_id))

    def _queue_job(self, what: str, job: Callable[[], None]) -> None:
        if self._closing:
            return
        self._jobs.append((what, job))
        if self._run is None:
            QTimer.singleShot(0, self, self._next_job)

    def _next_job(self) -> None:
        if self._run is not None or self._closing or not self._jobs:
            return  # a turn runs: `_set_busy(False)` at its end starts the job
        what, job = self._jobs.popleft()
        self._token.reset()  # a Stop pressed before this job must not stop it
        self._set_busy(True)
        try:
            job()
        except (EngramError, OSError, ValueError) as err:
            self.journal_failed.emit(what, _sentence(err))
        except Exception as err:  # a bug must not kill the worker thread
            log.exception("a journal job failed")
            self.journal_failed.emit(what, f"Something went wrong: {type(err).__name__}: {err}")
        if self._run is None:
            self._set_busy(False)  # which starts the next job, if any

    def _set_busy(self, busy: bool) -> None:
        super()._set_busy(busy)
        if busy or self._run is not None:
            self._stop_prefill()
        elif self._jobs:
            QTimer.singleShot(0, self, self._next_job)
        else:
            QTimer.singleShot(0, self, self._start_prefill)

    # ---- idle time: the next prompt's known head -----------------------------------------
    @property
    def _idle(self) -> bool:
        """No run, no job waiting, not closing: the model is free for a prefill."""
        return not (self._busy or self._run is not None or self._jobs or self._closing)

    def _start_prefill(self) -> None:
        """Idle and nothing queued: evaluate the next prompt up to the user's words, one
        batch per event-loop pass (`Agent.anticipate`), so Enter costs only those words."""
        self._stop_prefill()  # a memory edit since it began may have changed the head
        agent = self._current_agent()
        if agent is None or not self._idle:
            return
        self._prefill = agent.anticipate(self._draft)
        self._prefill_step()

    def _prefill_step(self) -> None:
        if self._prefill is None:
            return
        if not self._idle:
            self._stop_prefill()
            return
        try:
            next(self._prefill)
        except Exception as err:  # done, or failed: then the next turn pays the head's tokens
            if not isinstance(err, StopIteration):
                log.info("prefill stopped: %s", err)
            self._prefill = None
            return
        QTimer.singleShot(0, self, self._prefill_step)

    def _stop_prefill(self) -> None:
        prefill, self._prefill = self._prefill, None
        if prefill is not None:
            prefill.close()

    def _journal_store(self) -> JournalStore:
        if self._journal is None:  # opened in this thread, which alone uses it
            from app.memory.journal_store import JournalStore

            self._journal = JournalStore(self._runtime.root / "engram.db")
        return self._journal

    def _journal_settings(self) -> JournalSettings:
        return JournalSettings(follow_up_questions=self._runtime.settings.journal_follow_ups)

    def _write_review(self, period: ReviewPeriod) -> None:
        rt = self._runtime
        agent_id = self._agent_id()
        if rt.backend is None:
            raise JournalError("No model is loaded yet, so no review can be written.")
        review = write_review(
            period,
            rt.backend,
            repo=self._journal_store(),
            archival=rt.archival,
            agent_id=agent_id,
            now=rt.clock.now(),
            settings=self._journal_settings(),
            stop=self._job_stopped,
        )
        self.review_written.emit(review)
        self.refresh_memory()

    def _follow_up_question(self, entry_id: int) -> None:
        rt = self._runtime
        entry = self._journal_store().get(entry_id)
        if entry is None:
            raise JournalError("That journal entry no longer exists.")
        if rt.backend is None:
            raise JournalError("No model is loaded yet, so there is no follow-up question.")
        question = follow_up_question(
            entry,
            rt.backend,
            rt.archival,
            agent_id=self._agent_id(),
            settings=self._journal_settings(),
            stop=self._job_stopped,
        )
        self.follow_up_ready.emit(entry_id, question or "")

    def _job_stopped(self) -> bool:
        """Asked between tokens: Stop (`cancel_now`) or a closing window ends a job too."""
        return self._token.cancelled

    def _queue_due_reviews(self, agent_id: str) -> None:
        """Once per agent and launch, with the setting on: reviews of the newest periods
        that ended without one (catch_up_reviews caps how many)."""
        rt = self._runtime
        if agent_id in self._reviewed or not rt.settings.journal_auto_reviews:
            return
        self._reviewed.add(agent_id)
        try:
            due = due_reviews(rt.clock.now().date(), repo=self._journal_store(), agent_id=agent_id)
        except EngramError as err:
            self.journal_failed.emit("review", err.user_message)
            return
        for period in catch_up_reviews(due):
            self._queue_job(
                "review", functools.partial(self._write_review_quietly, period, agent_id)
            )

    def _write_review_quietly(self, period: ReviewPeriod, agent_id: str) -> None:
        """An automatic review: for the agent it was due for, skipped if it was written
        meanwhile or the agent changed."""
        if self._info is None or self._info.id != agent_id:
            return
        if any(r.period == period for r in self._journal_store().reviews(agent_id)):
            return
        self._write_review(period)

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
        self._stop_prefill()
        run = self._run
        if run is not None and isinstance(run.last, ev.UserMessageStored):
            # closed while delivering: that batch emptied the inbox, some events unseen
            self._undelivered[run.agent_id] = 0
        self._held.clear()
        super()._abandon()

    # ---- agents and snapshots ----------------------------------------------------------
    def _select(self, info: AgentInfo) -> None:
        self._stop_prefill()
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
        self._queue_due_reviews(agent.agent_id)  # after the greeting: jobs wait for no run

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


def _sentence(err: Exception) -> str:
    """An error in one sentence for the journal panel."""
    if isinstance(err, EngramError):
        return err.user_message
    return f"That could not be done: {err}"
