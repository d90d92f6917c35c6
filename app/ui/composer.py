"""The input area under the conversation: the message box and the Send/Stop/Retry/Copy row.

Enter sends, Shift+Enter starts a new line. "Edit last" puts the last message back in the box;
sending it then replaces that exchange (Esc leaves edit mode). Nothing here knows the agent:
it emits what the user asked for and is told whether the agent is busy. After a pause in typing
it also emits the draft's complete words (`draft_changed`), so the model can read them into its
cache before Enter.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.bubbles import dim_label

DRAFT_PAUSE_MS = 400


def complete_words(text: str) -> str:
    """The draft up to its last whitespace: a word still being typed would be tokenized
    differently once finished, so it is left for Enter."""
    found = re.search(r"\s+\S*$", text)
    return text[: found.start()] if found else ""


class MessageInput(QPlainTextEdit):
    """Enter emits `submitted`; Shift+Enter inserts a newline; Esc emits `escaped`."""

    submitted = Signal()
    escaped = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Message Engram…  (Enter sends, Shift+Enter for a new line)")
        self.setAccessibleName("Message")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 14)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    """The message box and its buttons."""

    send_requested = Signal(str)
    edit_resend_requested = Signal(str)
    stop_requested = Signal()
    retry_requested = Signal()
    draft_changed = Signal(str)  # the complete words typed so far, after a pause in typing

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._busy = False
        self._ready = False
        self._editing = False
        self.last_user_text = ""
        self.last_reply_text = ""
        self.edit_note = dim_label("Editing your last message: Enter resends it, Esc cancels.")
        self.edit_note.hide()
        self.input = MessageInput()
        self.input.submitted.connect(self.submit)
        self.input.escaped.connect(self.cancel_edit)
        self._draft_timer = QTimer(self)
        self._draft_timer.setSingleShot(True)
        self._draft_timer.setInterval(DRAFT_PAUSE_MS)
        self._draft_timer.timeout.connect(self._emit_draft)
        self.input.textChanged.connect(self._draft_timer.start)
        self.send_button = self._button("Send", "Send the message", self.submit)
        self.stop_button = self._button("Stop", "Stop the reply (Esc)", self.stop_requested.emit)
        self.retry_button = self._button(
            "Retry", "Answer the last message again", self.retry_requested.emit
        )
        self.edit_button = self._button("Edit last", "Edit and resend your last message", self.edit)
        self.copy_button = self._button("Copy reply", "Copy the last reply", self.copy_last)
        self.status = QLabel()
        self.status.setForegroundRole(self.edit_note.foregroundRole())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addWidget(self.edit_note)
        layout.addWidget(self.input)
        row = QHBoxLayout()
        for button in (self.stop_button, self.retry_button, self.edit_button, self.copy_button):
            row.addWidget(button)
        row.addWidget(self.status, 1)
        row.addWidget(self.send_button)
        layout.addLayout(row)
        self.send_button.setDefault(True)
        self._sync()

    def _button(self, text: str, tip: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.clicked.connect(slot)
        return button

    # ---- state ---------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._sync()

    def set_ready(self, ready: bool) -> None:
        self._ready = ready
        self._sync()

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def _sync(self) -> None:
        idle = self._ready and not self._busy
        self.stop_button.setEnabled(self._busy)
        self.retry_button.setEnabled(idle and bool(self.last_user_text))
        self.edit_button.setEnabled(idle and bool(self.last_user_text))
        self.copy_button.setEnabled(bool(self.last_reply_text))
        self.send_button.setText("Resend" if self._editing else "Send")

    def remember(self, *, user: str | None = None, reply: str | None = None) -> None:
        if user is not None:
            self.last_user_text = user
        if reply is not None:
            self.last_reply_text = reply
        self._sync()

    # ---- actions -------------------------------------------------------------------------
    def submit(self) -> None:
        text = self.input.toPlainText()
        if not text.strip():
            return
        self.input.clear()
        if self._editing:
            self.cancel_edit()
            self.edit_resend_requested.emit(text)
        else:
            self.send_requested.emit(text)

    def _emit_draft(self) -> None:
        if not self._editing:
            self.draft_changed.emit(complete_words(self.input.toPlainText()))

    def edit(self) -> None:
        if not self.last_user_text or self._busy:
            return
        self._editing = True
        self.edit_note.show()
        self.input.setPlainText(self.last_user_text)
        self.input.setFocus()
        self._sync()

    def cancel_edit(self) -> None:
        if not self._editing:
            return
        self._editing = False
        self.edit_note.hide()
        self.input.clear()
        self._sync()

    def copy_last(self) -> None:
        if self.last_reply_text:
            QGuiApplication.clipboard().setText(self.last_reply_text)
            self.set_status("reply copied")
            QTimer.singleShot(3000, self.status, self.status.clear)
