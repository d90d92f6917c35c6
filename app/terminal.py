"""The terminal chat: renders the agent's event stream and runs slash commands.

Reads a keyboard or a pipe alike (`printf 'hi\\n/exit\\n' | engram chat`), streams the visible
reply as it is generated, and shows inner thoughts and function calls dimmed with --verbose.
Ctrl-C while the agent works cancels the turn between tokens; at the prompt it quits.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from app.core import events as ev
from app.core import history
from app.core.agent import Agent, CancelToken
from app.core.errors import EngramError
from app.core.functions import stamp

log = logging.getLogger("engram.chat")

HELP = """\
/memory            core memory blocks and memory counts
/search TEXT       search the conversation (recall memory)
/archival TEXT     search archival memory
/pop [N]           remove the last N exchanges (default 1)
/retry             answer the last message again
/rethink TEXT      replace the inner thoughts of the last reply
/rewrite TEXT      replace the text of the last reply
/summarize         move older messages out of the context now, into the summary
/heartbeat         wake the agent without a message
/undo              undo the last core-memory edit
/proposals [accept|reject N]  memory edits held for your confirmation
/agents            list agents
/help              this list
/exit              quit"""


@dataclass
class Renderer:
    """Writes events to a stream; keeps track of whether a reply line is open."""

    out: TextIO
    verbose: bool = False
    color: bool = False
    _open: str = ""  # "reply" | "thought" | ""
    sources: list[str] = field(default_factory=list)

    def dim(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text

    def _start(self, kind: str, prefix: str) -> None:
        if self._open != kind:
            self._end()
            self.out.write(prefix)
            self._open = kind

    def _end(self) -> None:
        if self._open:
            self.out.write("\n")
            self._open = ""

    def line(self, text: str) -> None:
        self._end()
        self.out.write(text + "\n")
        self.out.flush()

    def event(self, event: ev.AgentEvent) -> None:
        match event:
            case ev.ReplyDelta(text=text):
                self._start("reply", "engram> ")
                self.out.write(text)
                self.out.flush()
            case ev.ThoughtDelta(text=text) if self.verbose:
                self._start("thought", self.dim("  (thinking) "))
                self.out.write(self.dim(text))
            case ev.FunctionCalled(name=name, arguments=args) if (
                self.verbose and name != "send_message"
            ):
                shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
                self.line(self.dim(f"  -> {name}({shown})"))
            case ev.FunctionReturned(name=name, ok=ok, result=result) if self.verbose or not ok:
                if self.verbose or name == "(invalid)":
                    status = "ok" if ok else "failed"
                    self.line(self.dim(f"  <- {name} {status}: {result[:300]}"))
            case ev.AssistantMessage(sources=sources):
                self._end()
                for i, sid in enumerate(sources, 1):
                    self.line(self.dim(f"  [{i}] archival passage {sid}"))
            case ev.MemoryEdited(label=label, actor=actor):
                self.line(self.dim(f"  (memory: {label} updated by {actor})"))
            case ev.MemoryProposed(proposal_id=pid, label=label):
                self.line(
                    f"  (memory: the agent wants to erase most of {label}; "
                    f"'/proposals accept {pid}' or '/proposals reject {pid}')"
                )
            case ev.MemoryPressure(tokens=tokens, window=window) if self.verbose:
                self.line(self.dim(f"  (memory pressure: {tokens}/{window} tokens)"))
            case ev.Evicted(count=count, summary_installed=ok):
                how = "summarised" if ok else "kept as a digest"
                self.line(self.dim(f"  ({count} older messages moved to recall, {how})"))
            case ev.StepLimitReached(limit=limit):
                self.line(self.dim(f"  (step limit {limit} reached)"))
            case ev.Cancelled():
                self.line("(stopped)")
            case ev.Notice(text=text, level=level) if self.verbose or level != "info":
                self.line(f"{level}: {text}")
            case ev.TurnEnded():
                self._end()
                self.out.flush()
            case _:
                pass


class TerminalChat:
    """A read-eval-print loop over one agent."""

    def __init__(
        self,
        agent: Agent,
        *,
        agents: Callable[[], list[str]],
        out: TextIO | None = None,
        verbose: bool = False,
    ) -> None:
        self.agent = agent
        self.list_agents = agents
        out = out or sys.stdout  # looked up now, not at import: callers may redirect stdout
        self.render = Renderer(out, verbose, color=out.isatty())
        self.cancel = CancelToken()

    def run_events(self, events: Iterable[ev.AgentEvent]) -> None:
        self.cancel.reset()
        try:
            for event in events:
                self.render.event(event)
        except KeyboardInterrupt:
            self.cancel.cancel()
            self.render.line("(stopped)")

    def anticipate(self) -> None:
        """While the user reads and types: evaluate the next prompt's known head (Ctrl-C
        stops it; a failure only costs the head's tokens at the next Enter)."""
        try:
            for _ in self.agent.anticipate():
                pass
        except KeyboardInterrupt:
            pass
        except EngramError as err:
            log.info("prefill skipped: %s", err.user_message)

    def loop(self, lines: Iterable[str], interactive: bool) -> int:
        if self.agent.awaiting_reply:  # a new agent greets; an interrupted turn is finished
            self.run_events(self.agent.run(self.cancel))
        self.anticipate()
        for raw in lines:
            text = raw.rstrip("\n")
            if not interactive:
                self.render.line(f"you> {text}")
            if not self.handle(text):
                return 0
            self.anticipate()
            if interactive:
                self.render.out.write("you> ")
                self.render.out.flush()
        return 0

    def handle(self, text: str) -> bool:
        """One line of input; False means quit."""
        try:
            if text.startswith("/"):
                return self.command(text)
            if not text.strip():
                self.render.line("(empty message: type something, or /help)")
                return True
            self.run_events(self.agent.chat(text, self.cancel))
        except EngramError as err:
            self.render.line(f"error: {err.user_message}")
        return True

    def command(self, text: str) -> bool:
        name, _, arg = text.partition(" ")
        arg = arg.strip()
        a = self.agent
        match name:
            case "/exit" | "/quit":
                return False
            case "/help":
                self.render.line(HELP)
            case "/memory":
                self.show_memory()
            case "/search":
                page = a.recall.search_text(a.agent_id, arg, 1, 10)
                self.render.line(f"{page.header()}")
                for m in page.items:
                    self.render.line(f"  [{stamp(m.created_at)}] {m.role}: {m.text[:200]}")
            case "/archival":
                found = a.archival.search(a.agent_id, arg, page=1, page_size=10)
                self.render.line(found.header())
                for p in found.items:
                    where = f" {p.location}" if p.location else ""
                    self.render.line(f"  [{p.source}{where}] {p.text[:200]}")
            case "/pop":
                if not (arg or "1").isdigit():
                    self.render.line("usage: /pop [N], N a whole number of exchanges")
                    return True
                removed = history.pop(a.recall, a.agent_id, int(arg or 1))
                self.render.line(f"removed {len(removed)} messages")
            case "/retry":
                history.prepare_retry(a.recall, a.agent_id)
                self.run_events(a.run(self.cancel))
            case "/rethink":
                history.rewrite_last_reply(a.recall, a.agent_id, thoughts=arg)
                self.render.line("inner thoughts replaced")
            case "/rewrite":
                history.rewrite_last_reply(a.recall, a.agent_id, message=arg)
                self.render.line("reply replaced")
            case "/summarize":
                self.run_events(a.compact())
            case "/heartbeat":
                self.run_events(a.heartbeat("Heartbeat requested by the user.", self.cancel))
            case "/undo":
                edit = a.memory.undo()
                self.render.line(f"undid an edit of {edit.label} (by {edit.actor})")
            case "/proposals":
                self.proposals(arg)
            case "/agents":
                for agent_name in self.list_agents():
                    self.render.line(f"  {agent_name}")
            case _:
                self.render.line(f"unknown command {name}; /help lists them")
        return True

    def proposals(self, arg: str) -> None:
        """List held memory edits, or accept/reject one (`accept 3`)."""
        memory = self.agent.memory
        verb, _, number = arg.partition(" ")
        if verb in ("accept", "reject") and number.strip().isdigit():
            if verb == "accept":
                edit = memory.accept(int(number))
                self.render.line(f"applied to {edit.label} (/undo reverts it)")
            else:
                self.render.line(f"rejected; {memory.reject(int(number)).label} unchanged")
            return
        for p in memory.proposals():
            self.render.line(f"  #{p.id} {p.label} by {p.actor}: {p.new_value[:200]!r}")
        self.render.line(f"{len(memory.proposals())} pending; /proposals accept|reject N")

    def show_memory(self) -> None:
        a = self.agent
        for block in a.memory.blocks:
            self.render.line(f"[{block.label}] {len(block.value)}/{block.limit} chars")
            self.render.line(block.value)
        usage = a.context_usage()
        state = a.recall.get_state(a.agent_id)
        self.render.line(
            f"recall: {a.recall.count_messages(a.agent_id)} messages; "
            f"archival: {a.archival.count(a.agent_id)} passages; "
            f"context: {usage.total}/{usage.window} tokens"
        )
        if state.summary:
            self.render.line(f"summary: {state.summary}")
