"""The conversation: bubbles rendered from the agent's event stream, and the composer below.

`handle(event)` draws the live stream (the reply grows as ReplyDelta events arrive; thoughts and
memory actions become small dim lines that unfold); `load_transcript()` draws the same from
stored messages after a switch or a history edit. Messages sent while the agent works wait below
the conversation marked "queued" and join it, in order, when the agent takes them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.core import events as ev
from app.core.messages import Kind, Message, Passage
from app.ui.bubbles import Bubble, Divider, FoldLine, ThoughtLine, dim_label, row_for
from app.ui.composer import Composer
from app.ui.describe import (
    Transcript,
    call_arguments,
    call_details,
    call_in_progress,
    call_summary,
    function_of,
    memory_edit_line,
    stored_result,
)
from app.ui.proposal_card import ProposalCard

BUBBLE_WIDTH = 0.8  # of the visible width


@dataclass
class _Turn:
    """What the stream is currently adding to."""

    reply: Bubble | None = None
    thought: ThoughtLine | None = None
    action: FoldLine | None = None
    call: ev.FunctionCalled | None = None
    stopping: bool = False


class ChatView(QWidget):
    """The conversation and the composer."""

    send_requested = Signal(str)
    stop_requested = Signal()
    source_clicked = Signal(object)  # a Passage a reply cited
    proposal_decided = Signal(int, bool)  # a held memory edit: id, accepted

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._turn = _Turn()
        self._pending: deque[Bubble] = deque()
        self._rows: dict[int, QWidget] = {}  # id(bubble) -> its row
        self._by_message: dict[int, Bubble] = {}
        self._busy = False
        self._stick = True
        self.column = QWidget()
        self.column.setAccessibleName("Conversation")
        self._layout = QVBoxLayout(self.column)
        self._layout.setContentsMargins(12, 12, 12, 12)
        self._layout.setSpacing(6)
        self._layout.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setWidget(self.column)
        bar = self.scroll_area.verticalScrollBar()
        bar.rangeChanged.connect(self._keep_at_bottom)
        bar.valueChanged.connect(lambda v: setattr(self, "_stick", v >= bar.maximum() - 24))
        self.composer = Composer()
        self.composer.send_requested.connect(self._on_send)
        self.composer.stop_requested.connect(self.stop_requested.emit)
        self.input = self.composer.input
        self.stop_button = self.composer.stop_button
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.composer)

    # ---- queries (tests, copy) -----------------------------------------------------------
    def bubbles(self) -> list[Bubble]:
        found = self.column.findChildren(Bubble)
        return sorted(found, key=lambda b: self._layout.indexOf(self._rows[id(b)]))

    def last_reply_text(self) -> str:
        return self.composer.last_reply_text

    def lines(self) -> list[str]:
        """Every dim line's text, in order (for tests and accessibility checks)."""
        out = []
        for i in range(self._layout.count()):
            item = self._layout.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, FoldLine):
                out.append(widget.summary.text())
            elif isinstance(widget, QLabel) and widget.property("note"):
                out.append(widget.text())
        return out

    # ---- layout --------------------------------------------------------------------------
    def _insert(self, widget: QWidget, *, last: bool = False) -> None:
        """Add below the conversation, above any message still queued (or `last`: below all)."""
        if self._pending and not last:
            index = self._layout.indexOf(self._rows[id(self._pending[0])])
        else:
            index = self._layout.count() - 1
        self._layout.insertWidget(index, widget)

    def _add_bubble(self, role: str, text: str = "", *, final: bool = True) -> Bubble:
        """A bubble in the conversation; an unsent user message (not final) goes below all."""
        bubble = Bubble(role, text)
        bubble.source_clicked.connect(self.source_clicked.emit)
        bubble.final = final
        bubble.set_max_width(self._bubble_width())
        row = row_for(bubble)
        self._rows[id(bubble)] = row
        self._insert(row, last=role == "user" and not final)
        return bubble

    def _add_note(self, text: str) -> None:
        label = dim_label(text)
        label.setProperty("note", True)
        label.setContentsMargins(24, 0, 4, 0)
        self._insert(label)

    def _bubble_width(self) -> int:
        return max(240, int(self.scroll_area.viewport().width() * BUBBLE_WIDTH))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        width = self._bubble_width()
        for bubble in self.column.findChildren(Bubble):
            bubble.set_max_width(width)

    def _keep_at_bottom(self, _min: int, maximum: int) -> None:
        if self._stick:
            self.scroll_area.verticalScrollBar().setValue(maximum)

    def clear(self) -> None:
        while self._layout.count() > 1:
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setParent(None)
                widget.deleteLater()
        self._rows.clear()
        self._by_message.clear()
        self._pending.clear()
        self._turn = _Turn()
        self.composer.remember(user="", reply="")

    # ---- sending -------------------------------------------------------------------------
    def _on_send(self, text: str) -> None:
        bubble = self._add_bubble("user", text, final=False)
        if self._busy or self._pending:
            bubble.set_footer("queued")
        self._pending.append(bubble)
        self._stick = True
        self.send_requested.emit(text)

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        if not busy:
            self._turn.stopping = False
        self.composer.set_busy(busy)

    def begin_stop(self) -> None:
        """The user pressed Stop: ignore deltas still on their way until the run ends."""
        if self._busy:
            self._turn.stopping = True

    def mark_unsent(self, text: str) -> None:
        for bubble in list(self._pending):
            if bubble.text == text:
                self._pending.remove(bubble)
                bubble.set_footer("not sent")
                return

    def set_sources(self, message_id: int, passages: tuple[Passage, ...]) -> None:
        bubble = self._by_message.get(message_id)
        if bubble is not None and passages:
            bubble.set_sources(passages)

    # ---- the live event stream -----------------------------------------------------------
    def handle(self, event: ev.AgentEvent) -> None:
        turn = self._turn
        match event:
            case ev.UserMessageStored(text=text):
                self._stored(text)
            case ev.ThoughtDelta(text=text) if not turn.stopping:
                if turn.thought is None:
                    turn.thought = ThoughtLine()
                    self._insert(turn.thought)
                turn.thought.append(text)
            case ev.ReplyDelta(text=text) if not turn.stopping:
                if turn.reply is None:
                    turn.reply = self._add_bubble("assistant", final=False)
                turn.reply.append(text)
            case ev.StepDone():
                turn.thought = None
            case ev.FunctionCalled():
                self._called(event)
            case ev.FunctionReturned():
                self._returned(event)
            case ev.AssistantMessage():
                self._replied(event)
            case ev.MemoryEdited(label=label, actor=actor):
                line = memory_edit_line(actor, label)
                if line:
                    self._add_note(line)
            case ev.MemoryProposed():
                card = ProposalCard(event)
                card.decided.connect(self.proposal_decided)
                self._insert(card)
            case ev.MemoryPressure(tokens=tokens, window=window):
                self._add_note(
                    f"memory is getting full ({tokens:,} of {window:,} tokens): "
                    "the agent was asked to save what matters"
                )
            case ev.Evicted(count=count, summary_installed=ok):
                how = "summarised" if ok else "kept as a digest"
                self._add_note(
                    f"{count} older messages moved out of the context ({how}); "
                    "they stay searchable in Recall"
                )
            case ev.StepLimitReached(limit=limit):
                self._add_note(f"stopped after {limit} steps (the step limit)")
            case ev.Cancelled():
                self._cancelled()
            case ev.Notice(text=text, level=level):
                self._add_note(text if level == "info" else f"{level}: {text}")
            case ev.TurnEnded():
                self._turn = _Turn()
            case _:
                pass

    def _stored(self, text: str) -> None:
        if self._pending:
            bubble = self._pending.popleft()
            bubble.final = True
            bubble.set_footer("")
        else:
            bubble = self._add_bubble("user", text)
        self.composer.remember(user=text)

    def _called(self, event: ev.FunctionCalled) -> None:
        if event.name == "send_message" or self._turn.stopping:
            return
        line = FoldLine(call_in_progress(event.name, event.arguments))
        self._turn.action, self._turn.call = line, event
        self._insert(line)

    def _returned(self, event: ev.FunctionReturned) -> None:
        turn = self._turn
        if event.name == "(invalid)":
            if turn.reply is not None and not turn.reply.final:
                turn.reply.add_footer("(the model's step was invalid; it tries again)")
                turn.reply = None
            self._add_note(call_summary(event.name, {}, False, event.result))
            return
        if turn.action is None or turn.call is None or turn.call.name != event.name:
            return
        args = turn.call.arguments
        turn.action.set_summary(call_summary(event.name, args, event.ok, event.result))
        turn.action.set_details(call_details(args, event.result))
        turn.action, turn.call = None, None

    def _replied(self, event: ev.AssistantMessage) -> None:
        turn = self._turn
        bubble = turn.reply or self._add_bubble("assistant")
        bubble.set_text(event.text)
        bubble.final = True
        self._by_message[event.message_id] = bubble
        turn.reply = None
        self.composer.remember(reply=event.text)

    def _cancelled(self) -> None:
        turn = self._turn
        if turn.reply is not None and not turn.reply.final:
            turn.reply.add_footer("(stopped)")
        else:
            self._add_note("(stopped)")
        if turn.action is not None:
            turn.action.set_summary(turn.action.summary.text().rstrip("…") + " (stopped)")
        turn.reply = turn.thought = turn.action = None

    # ---- stored history ------------------------------------------------------------------
    def load_transcript(self, transcript: Transcript) -> None:
        self.clear()
        if transcript.earlier:
            self._insert(Divider(f"{transcript.earlier} earlier messages: search them in Recall"))
        divided = False
        pending: tuple[FoldLine, str, dict[str, object]] | None = None
        for message in transcript.messages:
            if not divided and message.id >= transcript.context_start_id > 0:
                self._insert(Divider("older messages are summarised out of the context"))
                divided = True
            if message.kind == Kind.FUNCTION_RESULT and pending is not None:
                line, name, args = pending
                ok, result = stored_result(message)
                line.set_summary(call_summary(name, args, ok, result))
                line.set_details(call_details(args, result))
            pending = self._stored_message(message)

    def _stored_message(self, message: Message) -> tuple[FoldLine, str, dict[str, object]] | None:
        if message.kind == Kind.USER:
            self._add_bubble("user", message.text)
            self.composer.remember(user=message.text)
        elif message.kind == Kind.FUNCTION_CALL:
            thoughts = str(message.metadata.get("thoughts", ""))
            if thoughts:
                self._insert(ThoughtLine(thoughts))
            name = function_of(message)
            if name == "send_message":
                self._by_message[message.id] = self._add_bubble("assistant", message.text)
                self.composer.remember(reply=message.text)
                return None
            args = call_arguments(message)
            line = FoldLine(call_in_progress(name, args))
            self._insert(line)
            return line, name, args
        return None
