"""Stepping an agent's event generator in its worker thread without blocking that thread.

`RunPump` is the machinery under AgentWorker: a zero-interval QTimer steps the current run's
generator for at most TIME_SLICE_S per tick, then returns to the thread's event loop, so queued
slots (a stop, a new message, a memory edit, a search) are handled between tokens (superqt's
GeneratorWorker, napari's qt_histogram). Each run carries the generation it started in; `stop()`
and `_abandon()` bump the generation, and a stale run's events are dropped except the facts it
stored. `processEvents()` is never called.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.core import events as ev
from app.core.agent import CancelToken
from app.core.errors import EngramError

log = logging.getLogger("engram.ui")

P = ParamSpec("P")
W = TypeVar("W", bound="RunPump")
Events = Generator[ev.AgentEvent, None, None]
TIME_SLICE_S = 0.02  # how long one timer tick may step the agent before yielding to Qt
# Facts a stale run still reports: they are stored, whatever happens to the run.
FACT_EVENTS = (
    ev.UserMessageStored,
    ev.MemoryEdited,
    ev.MemoryProposed,
    ev.ArchivalInserted,
    ev.Evicted,
)


@dataclass
class Run:
    generation: int
    agent_id: str
    events: Events
    stopping: bool = False
    last: ev.AgentEvent | None = None  # the last event the run yielded


def reports_errors(method: Callable[Concatenate[W, P], None]) -> Callable[Concatenate[W, P], None]:
    """A slot's EngramError becomes the `error` signal; any other failure is logged too. Busy
    is cleared when the slot leaves no run behind."""

    @functools.wraps(method)
    def wrapper(self: W, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except EngramError as err:
            self.error.emit(err.user_message)
        except Exception as err:
            log.exception("%s failed", method.__name__)
            self.error.emit(f"Something went wrong: {type(err).__name__}: {err}")
        if self._run is None:
            self._set_busy(False)

    return wrapper


class RunPump(QObject):
    """One run at a time, stepped in time slices; subclasses decide what to run."""

    # app.core.events.*, never ContextUsage (that goes to `usage`); shadows QObject.event
    event = Signal(object)  # type: ignore[assignment]
    busy = Signal(bool)
    error = Signal(str)
    usage = Signal(object)  # ContextUsage

    def __init__(self) -> None:
        super().__init__()
        self._token = CancelToken()
        self._generation = 0
        self._run: Run | None = None
        self._busy = False
        self._closing = False
        self._pump = QTimer(self)  # a child, so it moves to the worker thread with us
        self._pump.setInterval(0)
        self._pump.timeout.connect(self._pump_once)

    # ---- called from the GUI thread ----------------------------------------------------
    def cancel_now(self) -> None:
        """Thread-safe: make the running loop stop at its next token. `stop()` follows."""
        self._token.cancel()

    def mark_closing(self) -> None:
        """Thread-safe: no new run may start (the window is closing)."""
        self._closing = True
        self._token.cancel()

    # ---- in the worker thread ----------------------------------------------------------
    @Slot()
    def stop(self) -> None:
        """Cancel the current run between tokens; from now on its output is dropped. It still
        runs to its end (quickly: the token is set) so the agent records a clean state."""
        self._token.cancel()
        run = self._run
        if run is None or run.stopping or isinstance(run.last, ev.Cancelled | ev.TurnEnded):
            return  # nothing runs, or the loop saw the token first and is ending by itself
        run.stopping = True
        self._generation += 1

    def _start_run(self, agent_id: str, events: Events) -> None:
        if self._closing:
            events.close()
            return
        self._token.reset()
        self._run = Run(self._generation, agent_id, events)
        self._set_busy(True)
        self._pump.start()

    def _pump_once(self) -> None:
        run = self._run
        if run is None:
            self._pump.stop()
            return
        deadline = time.monotonic() + TIME_SLICE_S
        try:
            while time.monotonic() < deadline:
                self._dispatch(run, next(run.events))
        except StopIteration:
            self._finish(run)
        except EngramError as err:
            self._fail(err.user_message)
        except Exception as err:  # a bug must not kill the worker thread
            log.exception("the agent run failed")
            self._fail(f"Something went wrong: {type(err).__name__}: {err}")

    def _dispatch(self, run: Run, event: ev.AgentEvent) -> None:
        run.last = event
        self._observe(run, event)
        if isinstance(event, ev.ContextUsage):
            self.usage.emit(event)
            return
        if run.generation != self._generation and not isinstance(event, FACT_EVENTS):
            return
        self.event.emit(event)
        self._emitted(event)

    def _finish(self, run: Run) -> None:
        self._run = None
        self._pump.stop()
        if run.stopping:
            self.event.emit(ev.Cancelled())
            self.event.emit(ev.TurnEnded(0, False))
        if not self._after_run(run):
            self._set_busy(False)

    def _fail(self, message: str) -> None:
        self._abandon()
        self.error.emit(message)
        self.event.emit(ev.Notice(message, "error"))
        self.event.emit(ev.TurnEnded(0, False))
        self._set_busy(False)

    def _abandon(self) -> None:
        """Drop the current run without waiting: close its generator, bump the generation."""
        run, self._run = self._run, None
        self._pump.stop()
        if run is None:
            return
        self._generation += 1
        self._token.cancel()
        try:
            run.events.close()
        except Exception:
            log.exception("closing an abandoned run failed")

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy.emit(busy)

    # ---- hooks -------------------------------------------------------------------------
    def _observe(self, run: Run, event: ev.AgentEvent) -> None:
        """Every event of every run, stale or not, before it is filtered."""

    def _emitted(self, event: ev.AgentEvent) -> None:
        """An event that was just sent to the window."""

    def _after_run(self, run: Run) -> bool:
        """A run ended; True if another one was started."""
        return False
