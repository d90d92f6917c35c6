"""The agent loop: MemGPT's control flow as a bounded generator of events.

`Agent.run()` delivers queued events, keeps the context inside the window (warning, evicting and
summarising before it would overflow, never after an error), asks the model for one
constrained call per step, executes it and persists the step atomically. Heartbeats chain steps;
a hard step limit ends every chain, and the last allowed step may only reply to the user, so a
turn always ends with words the user can read. No I/O happens here beyond the injected stores.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.core import events as ev
from app.core.context import (
    ContextConfig,
    MemoryStats,
    SystemParts,
    TokenMeter,
    event_json,
    eviction_cut,
    fit_text,
    new_event,
    render_messages,
    static_instructions,
)
from app.core.errors import InputError, ToolError
from app.core.functions import default_toolbox
from app.core.memory import CoreMemory
from app.core.messages import Kind, Message, NewMessage
from app.core.prompts import (
    HEARTBEAT_AFTER_CALL,
    HEARTBEAT_AFTER_FAILURE,
    MEMORY_PRESSURE_ALERT,
    STEP_LIMIT_NOTE,
    TRUNCATED_OUTPUT,
)
from app.core.protocols import (
    ArchivalStore,
    ChatBackend,
    Clock,
    Completion,
    Prefiller,
    RecallStore,
    SamplingParams,
    TextDelta,
)
from app.core.stream_json import FieldStreamer
from app.core.summarizer import Summarizer
from app.core.toolbox import Call, Toolbox, ToolContext, truncate_result

log = logging.getLogger("engram.agent")

AWAITING_KINDS = frozenset({Kind.USER, Kind.HEARTBEAT, Kind.LOGIN})
MAX_INPUT_CHARS = 20_000_000
NEXT_MESSAGE_MARK = "ENGRAM-NEXT-USER-MESSAGE"  # stands in for words not typed yet
MAX_DRAFT_CHARS = 4000  # a longer draft is not prefilled (a big paste may be cut to fit)
MIN_MESSAGE_TOKENS = 64  # a message is never cut shorter than this, however full the window
Events = Generator[ev.AgentEvent, None, None]


@dataclass(frozen=True)
class AgentConfig:
    max_steps: int = 10
    temperature: float = 0.0
    repeat_penalty: float = 1.1  # tiny models at temperature 0 loop on a phrase without it
    page_size: int = 5
    context: ContextConfig = field(default_factory=ContextConfig)


class CancelToken:
    """Set from any thread; the loop checks it between tokens."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    def reset(self) -> None:
        self._event.clear()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class _StepOutcome:
    cancelled: bool = False
    replied: bool = False


class Agent:
    """One agent's virtual context over injected stores and a chat backend."""

    def __init__(
        self,
        agent_id: str,
        *,
        backend: ChatBackend,
        recall: RecallStore,
        archival: ArchivalStore,
        clock: Clock,
        config: AgentConfig | None = None,
        toolbox: Toolbox | None = None,
    ) -> None:
        self.agent_id = agent_id
        self.backend = backend
        self.recall = recall
        self.archival = archival
        self.clock = clock
        self.config = config or AgentConfig()
        self.toolbox = toolbox or default_toolbox()
        self.memory = CoreMemory(agent_id, recall, clock)
        self.meter = TokenMeter(backend)
        self.summarizer = Summarizer(backend, self.meter.text)
        self._instructions = static_instructions(self.toolbox)
        self._inbox: queue.SimpleQueue[NewMessage] = queue.SimpleQueue()
        self._retrieved: list[str] = []
        self._cancel: CancelToken | None = None
        self._last_summary_ok = True

    # ---- input -------------------------------------------------------------------------
    def submit(self, text: str) -> None:
        """Queue a user message (thread-safe); it is delivered at the next step boundary."""
        self._inbox.put(self._user_message(text))

    def _user_message(self, text: str) -> NewMessage:
        if not text.strip():
            raise InputError("The message is empty; type something to send.")
        if len(text) > MAX_INPUT_CHARS:
            raise InputError(
                f"The message is {len(text) // 1_000_000} MB; the limit is 20 MB.",
                hint="Ingest it as a document instead.",
            )
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from bad input
        now = self.clock.now()
        shown = self._fit(text, self.config.context.max_user_fraction)
        if len(shown) < len(text):
            note = (
                f"[message cut to fit the context: {len(shown)} of {len(text)} characters shown;"
                " the whole text is stored in recall memory]"
            )
            msg = new_event(Kind.USER, f"{shown}\n{note}", now)
            return NewMessage(msg.kind, msg.content, text, now, {"truncated": True})
        return new_event(Kind.USER, text, now)

    def _fit(self, text: str, fraction: float) -> str:
        """`text` cut, keeping its start, to the tokens one new message may take (the user's
        words, a function's result): `fraction` of the window, and at most half of what the
        instructions, core memory and a full-size summary leave beside the reply. Eviction can
        move out everything before the current exchange, never that exchange itself, so
        without this bound one long search result in a small window made every later prompt
        overflow."""
        if len(text.encode("utf-8", "replace")) <= MIN_MESSAGE_TOKENS:
            return text  # a token is at least a byte: no need to ask the stores
        return fit_text(text, self._message_limit(fraction), self.meter)

    def _message_limit(self, fraction: float) -> int:
        cfg = self.config.context
        window = self.backend.context_window
        parts = self.system_parts()
        fixed = sum(map(self.meter.text, (parts.instructions, parts.core_memory, parts.stats)))
        fixed += max(self.meter.text(parts.summary), self.summarizer.max_tokens)
        spare = (window - cfg.reply_tokens - fixed) // 2
        return max(MIN_MESSAGE_TOKENS, min(int(window * fraction), spare))

    def chat(
        self, text: str, cancel: CancelToken | None = None, *, only: Sequence[str] = ()
    ) -> Events:
        self.submit(text)
        yield from self.run(cancel, only=only)

    def heartbeat(self, reason: str, cancel: CancelToken | None = None) -> Events:
        self.recall.append(self.agent_id, [new_event(Kind.HEARTBEAT, reason, self.clock.now())])
        yield from self.run(cancel)

    def alert(self, text: str) -> None:
        """A system alert the model sees at its next step (does not wake it by itself)."""
        self.recall.append(self.agent_id, [new_event(Kind.SYSTEM_ALERT, text, self.clock.now())])

    @property
    def awaiting_reply(self) -> bool:
        fifo = self.recall.context_messages(self.agent_id)
        return bool(fifo) and fifo[-1].kind in AWAITING_KINDS

    def anticipate(self, draft: str = "") -> Generator[int, None, None]:
        """While the agent waits for the user: let the backend evaluate the next prompt up to
        where the user's words will go (the last call's receipt, the user event's type and
        time) — and through `draft`, the words typed so far — so that Enter costs only what
        is still new. One backend batch per item, so a UI can stop between batches when a
        message arrives; if another event comes first, or the user rewrites the draft, the
        cache merely holds a longer prefix than that prompt needs."""
        if not isinstance(self.backend, Prefiller):
            return
        fifo = self.recall.context_messages(self.agent_id)
        if fifo and fifo[-1].kind in AWAITING_KINDS:
            return  # a reply is owed: the next prompt is not the one anticipated here
        draft = draft if len(draft) <= MAX_DRAFT_CHARS else ""  # a paste: cut at Enter anyway
        event = new_event(Kind.USER, draft + NEXT_MESSAGE_MARK, self.clock.now())
        upcoming = Message(0, self.agent_id, event.kind, event.content, "", event.created_at)
        prompt = render_messages(self.system_parts(fifo), [*fifo, upcoming])
        yield from self.backend.prefill(prompt, upto=NEXT_MESSAGE_MARK)

    # ---- the loop ----------------------------------------------------------------------
    def run(self, cancel: CancelToken | None = None, *, only: Sequence[str] = ()) -> Events:
        """Process everything pending: queued user messages and unanswered events.

        `only` restricts the first step to these functions (a user's explicit "remember this",
        or tests proving each function is reachable on a real model)."""
        steps, replied, forced = 0, False, False
        self._retrieved, self._cancel = [], cancel
        while True:
            if (yield from self._deliver_inbox()):
                steps, self._retrieved = 0, []
            if not self.awaiting_reply:
                break
            if steps >= self.config.max_steps:
                self.alert(STEP_LIMIT_NOTE.format(limit=self.config.max_steps))
                yield ev.StepLimitReached(self.config.max_steps)
                break
            yield from self._manage_context()
            last_step = steps == self.config.max_steps - 1
            outcome = yield from self._step(
                steps, reply_only=last_step, only=only if steps == 0 else ()
            )
            if outcome.cancelled:
                yield ev.Cancelled()
                yield ev.TurnEnded(steps + 1, replied)
                return
            replied = replied or outcome.replied
            forced = forced or (last_step and outcome.replied)
            steps += 1
        if forced:
            self.alert(STEP_LIMIT_NOTE.format(limit=self.config.max_steps))
            yield ev.StepLimitReached(self.config.max_steps)
        yield ev.TurnEnded(steps, replied)

    def _deliver_inbox(self) -> Generator[ev.AgentEvent, None, bool]:
        pending: list[NewMessage] = []
        while True:
            try:
                pending.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        if not pending:
            return False
        for stored in self.recall.append(self.agent_id, pending):
            yield ev.UserMessageStored(stored.id, stored.text)
        return True

    def _step(
        self, step: int, *, reply_only: bool, only: Sequence[str] = ()
    ) -> Generator[ev.AgentEvent, None, _StepOutcome]:
        fifo = self.recall.context_messages(self.agent_id)
        parts = self.system_parts(fifo)
        prompt = render_messages(parts, fifo)
        first_reply = not any(m.kind == Kind.FUNCTION_CALL for m in fifo) and not parts.summary
        if reply_only or first_reply:
            only = ("send_message",)
        schema = self.toolbox.union_schema(self.memory.labels, only)
        params = SamplingParams(
            self.config.context.reply_tokens,
            self.config.temperature,
            repeat_penalty=self.config.repeat_penalty,
        )
        streamer = FieldStreamer(frozenset({"inner_thoughts", "arguments.message"}))
        completion: Completion | None = None
        stream = self.backend.stream(prompt, schema=schema, params=params)
        try:
            for item in stream:
                if self._cancel_requested():
                    return _StepOutcome(cancelled=True)
                if isinstance(item, TextDelta):
                    for path, text in streamer.feed(item.text):
                        yield (
                            ev.ThoughtDelta(text)
                            if path == "inner_thoughts"
                            else ev.ReplyDelta(text)
                        )
                else:
                    completion = item
        finally:
            stream.close()  # type: ignore[attr-defined]
        assert completion is not None, "a backend stream must end with a Completion"
        yield ev.StepDone(
            step,
            completion.prompt_tokens,
            completion.evaluated_prompt_tokens,
            completion.completion_tokens,
            completion.finish_reason,
        )
        if completion.finish_reason == "cancelled":
            return _StepOutcome(cancelled=True)
        return (yield from self._act(completion, only))

    def _cancel_requested(self) -> bool:
        return self._cancel is not None and self._cancel.cancelled

    def _act(
        self, completion: Completion, only: Sequence[str]
    ) -> Generator[ev.AgentEvent, None, _StepOutcome]:
        """Parse, execute and persist one step (call + result [+ heartbeat] in one write)."""
        now = self.clock.now()
        raw = completion.text.strip()
        try:
            if completion.finish_reason == "length":
                raise ToolError(TRUNCATED_OUTPUT.format(reason="length limit"))
            call = self.toolbox.parse(_loads(raw), self.memory.labels)
            if only and call.name not in only:
                raise ToolError(f"Only {', '.join(only)} may be called now.")
        except ToolError as err:
            yield ev.FunctionReturned("(invalid)", False, str(err), True)
            self.recall.append(
                self.agent_id,
                [
                    new_event(Kind.SYSTEM_ALERT, str(err), now),
                    new_event(Kind.HEARTBEAT, HEARTBEAT_AFTER_FAILURE, now),
                ],
            )
            return _StepOutcome()
        yield ev.FunctionCalled(call.name, call.arguments, call.thoughts)
        ok, result, effects = self._execute(call)
        result = self._fit_result(result)
        tool = self.toolbox[call.name]
        heartbeat = (not ok) or (call.heartbeat and not tool.ends_chain)
        visible = str(call.arguments.get("message", "")) if call.name == "send_message" else ""
        records = [
            NewMessage(
                Kind.FUNCTION_CALL,
                raw,
                visible,
                now,
                {"function": call.name, "thoughts": call.thoughts},
            ),
            _result_event(call.name, ok, result, now, receipt=ok and tool.ends_chain),
        ]
        if heartbeat:
            reason = HEARTBEAT_AFTER_CALL if ok else HEARTBEAT_AFTER_FAILURE
            records.append(new_event(Kind.HEARTBEAT, reason, now))
        stored = self.recall.append(self.agent_id, records)
        yield from effects
        yield ev.FunctionReturned(call.name, ok, result, heartbeat)
        if visible:
            yield ev.AssistantMessage(visible, stored[0].id, tuple(dict.fromkeys(self._retrieved)))
        return _StepOutcome(replied=bool(visible))

    def _fit_result(self, result: str) -> str:
        """A function's result as the model will see it, cut by `_fit` with a note. The
        toolbox's own cap is in characters (2,000, like MemGPT's 3,000): still too much for
        a 2k-token window. Results are derived data: the search can be asked again."""
        return truncate_result(
            result, len(self._fit(result, self.config.context.max_result_fraction))
        )

    def _execute(self, call: Call) -> tuple[bool, str, list[ev.AgentEvent]]:
        ctx = ToolContext(
            self.agent_id,
            self.recall,
            self.archival,
            self.memory,
            self.clock,
            page_size=self.config.page_size,
        )
        try:
            result = self.toolbox.run(call, ctx)
            ok = True
        except ToolError as err:
            result, ok = str(err), False
        except Exception as err:  # a bug in a tool must not kill the conversation
            log.exception("function %s failed", call.name)
            result, ok = f"{call.name} failed: {type(err).__name__}: {err}", False
        self._retrieved.extend(ctx.retrieved)
        return ok, result, ctx.effects

    # ---- context management ------------------------------------------------------------
    def system_parts(self, fifo: Sequence[Message] | None = None) -> SystemParts:
        fifo = self.recall.context_messages(self.agent_id) if fifo is None else fifo
        stats = MemoryStats(
            hidden_messages=self.recall.count_messages(self.agent_id) - len(fifo),
            archival_passages=self.archival.count(self.agent_id),
            core_modified=self.memory.last_modified,
        )
        state = self.recall.get_state(self.agent_id)
        return SystemParts(self._instructions, self.memory.render(), stats.render(), state.summary)

    def context_usage(self) -> ev.ContextUsage:
        fifo = self.recall.context_messages(self.agent_id)
        parts = self.system_parts(fifo)
        total = self.meter.prompt(render_messages(parts, fifo))
        cfg = self.config.context
        return self.meter.usage(
            parts, fifo, total, cfg.reply_tokens, self.backend.context_window, cfg.warn_fraction
        )

    def _manage_context(self) -> Events:
        cfg = self.config.context
        window = self.backend.context_window
        for _ in range(4):  # eviction is approximate per message; re-check a few times
            usage = self.context_usage()
            yield usage
            needed = usage.total + cfg.reply_tokens
            if needed > window:
                evicted = yield from self._evict(needed - int(cfg.evict_target * window))
                if evicted:
                    continue
                yield ev.Notice("The context is full and nothing more can be moved out.", "warning")
            elif needed > cfg.warn_fraction * window and not self._warned():
                percent = round(100 * needed / window)
                self.alert(MEMORY_PRESSURE_ALERT.format(percent=percent))
                self.recall.update_state_extra(self.agent_id, warned=True)
                yield ev.MemoryPressure(needed, window)
            return

    def _warned(self) -> bool:
        return bool(self.recall.get_state(self.agent_id).extra.get("warned"))

    def _evict(self, must_free: int) -> Generator[ev.AgentEvent, None, int]:
        fifo = self.recall.context_messages(self.agent_id)
        tokens = [self.meter.text(m.content) + 4 for m in fifo]
        cut = eviction_cut(fifo, tokens, must_free, self.config.context.keep_last)
        if cut == 0:
            return 0
        before = sum(tokens)
        yield from self.summarize(fifo[:cut])
        after = sum(tokens[cut:])
        yield ev.Evicted(cut, self._last_summary_ok, before, after)
        return cut

    def compact(self) -> Events:
        """Move everything but the last few messages into the summary now (/summarize)."""
        evicted = yield from self._evict(10**9)
        if not evicted:
            yield ev.Notice("Nothing to summarise yet.", "warning")

    def summarize(self, evicted: Sequence[Message]) -> Events:
        """Fold `evicted` (the oldest messages in context) into the summary and move the FIFO
        start past them, atomically. The messages stay in recall storage."""
        state = self.recall.get_state(self.agent_id)
        result = self.summarizer.summarize(state.summary, evicted)
        self._last_summary_ok = result.from_model
        self.recall.evict(self.agent_id, evicted[-1].id, result.text)
        self.recall.update_state_extra(self.agent_id, warned=False)
        if not result.from_model:
            yield ev.Notice("The model's summary was not usable; a plain digest was kept.", "info")


def _result_event(name: str, ok: bool, result: str, now: datetime, *, receipt: bool) -> NewMessage:
    """A function's result as the model sees it. A successful chain-ending call (send_message)
    gets a bare receipt: its "Sent message successfully." and a time the next event repeats
    would be ~20 tokens evaluated again every turn for nothing the model needs."""
    if receipt:
        return NewMessage(
            Kind.FUNCTION_RESULT,
            event_json(str(Kind.FUNCTION_RESULT), "", None, function=name, status="OK"),
            "",
            now,
        )
    status = "OK" if ok else "Failed"
    return new_event(Kind.FUNCTION_RESULT, "", now, function=name, status=status, result=result)


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ToolError(TRUNCATED_OUTPUT.format(reason=f"invalid JSON: {err.msg}")) from err
