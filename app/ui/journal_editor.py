"""One journal entry being written: Markdown text with autosave, mood check-in, tags and the
"keep this out of memory" switch.

No keystroke is lost: every change restarts a single-shot timer of AUTOSAVE_MS (< 1 s), and
leaving the text (focus-out), switching entry or day, and closing the window save at once
(`flush`). The editor only *asks* for saves (signals queued to the journal worker); it never
waits for the disk. An entry that does not exist yet is a draft with a token: its first save
creates it (with the mood, tags and keep-out already chosen), so "keep out" can be ticked
before the first word is written.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFocusEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.core.journal import JournalEntry
from app.ui.journal_chart import MOOD_WORDS

AUTOSAVE_MS = 700


def split_tags(text: str) -> list[str]:
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


class MarkdownEdit(QPlainTextEdit):
    """The text box; tells the editor when it loses focus (a save point)."""

    focus_lost = Signal()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.focus_lost.emit()
        super().focusOutEvent(event)


class EntryEditor(QWidget):
    save_requested = Signal(int, int, object, str, object)  # token, entry id (0: draft), day,
    # text, draft fields {mood, mood_tags, tags, keep_out}
    mood_changed = Signal(int, object, object)  # entry id, mood or None, mood tags
    tags_changed = Signal(int, object)  # entry id, tags
    keep_out_changed = Signal(int, bool)
    delete_requested = Signal(int)
    reflect_requested = Signal(int)  # entry id: ask for a follow-up question about it
    answer_requested = Signal(str)  # a follow-up question to answer in the chat

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.day = date.today()
        self.entry_id = 0
        self.token = 0
        self._next_token = 0
        self.dirty = False
        self._draft_sent = False
        self._loading = False
        self.follow_ups = False  # the user setting: follow-up questions after an entry
        self._edited = False  # typed into since shown: leaving it asks for a question
        self._reflect_pending = False  # Reflect pressed on a draft not yet saved
        self._asked: dict[int, date] = {}  # entry id -> its day, question on the way
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.flush)
        self._build()
        self.show_entry(self.day, None)

    def _build(self) -> None:
        self.heading = QLabel()
        self.heading.setAccessibleName("Entry date")
        self.status = QLabel()
        self.status.setAccessibleName("Save status")
        self.preview_button = QPushButton("Preview")
        self.preview_button.setCheckable(True)
        self.preview_button.toggled.connect(self._toggle_preview)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        self.reflect_button = QPushButton("Reflect")
        self.reflect_button.setToolTip("Ask the agent for one follow-up question about this entry")
        self.reflect_button.clicked.connect(self.reflect)
        self.reflect_button.hide()
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.status)
        top.addWidget(self.reflect_button)
        top.addWidget(self.preview_button)
        top.addWidget(self.delete_button)

        self.text = MarkdownEdit()
        self.text.setAccessibleName("Journal entry (Markdown)")
        self.text.setPlaceholderText("Write about your day… (Markdown; saved as you type)")
        self.text.textChanged.connect(self._changed)
        self.text.focus_lost.connect(self.flush)
        self.preview = QTextBrowser()
        self.preview.setOpenExternalLinks(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.text)
        self.stack.addWidget(self.preview)

        self.mood = QComboBox()
        self.mood.setAccessibleName("Mood")
        self.mood.addItem("mood —", None)
        for n, word in enumerate(MOOD_WORDS, start=1):
            self.mood.addItem(f"{n} · {word}", n)
        self.mood.currentIndexChanged.connect(self._mood_edited)
        self.mood_tags = QLineEdit()
        self.mood_tags.setPlaceholderText("tired, calm")
        self.mood_tags.setAccessibleName("Mood words")
        self.mood_tags.editingFinished.connect(self._mood_edited)
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("family, work")
        self.tags.setAccessibleName("Tags")
        self.tags.editingFinished.connect(self._tags_edited)
        self.keep_out = QCheckBox("Keep out of memory")
        self.keep_out.setToolTip("The agent never embeds, searches or sees this entry.")
        self.keep_out.toggled.connect(self._keep_out_edited)
        fields = QHBoxLayout()
        fields.addWidget(self.mood)
        fields.addWidget(QLabel("feeling"))
        fields.addWidget(self.mood_tags, 1)
        fields.addWidget(QLabel("tags"))
        fields.addWidget(self.tags, 1)
        fields.addWidget(self.keep_out)

        self.question = QLabel()
        self.question.setAccessibleName("Follow-up question")
        self.question.setWordWrap(True)
        self.answer_button = QPushButton("Answer in chat")
        self.answer_button.clicked.connect(self._answer)
        self.dismiss_button = QPushButton("Dismiss")
        self.dismiss_button.clicked.connect(self.dismiss_question)
        self.reflection = QFrame()
        self.reflection.setObjectName("reflection")
        self.reflection.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self.reflection)
        bar.addWidget(self.question, 1)
        bar.addWidget(self.answer_button)
        bar.addWidget(self.dismiss_button)
        self.reflection.hide()
        self._question_text = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(fields)
        layout.addWidget(self.reflection)

    # ---- showing -------------------------------------------------------------------------
    def show_entry(self, day: date, entry: JournalEntry | None) -> None:
        """Show an entry (None: a new draft for `day`), saving the one shown before (and,
        with follow-up questions on, asking one about it if it was written in)."""
        self.flush()
        if self._edited and self.follow_ups and self.entry_id and not self.keep_out.isChecked():
            self._ask(self.entry_id)
        self._edited = self._reflect_pending = False
        self._next_token += 1
        self.day, self.token = day, self._next_token
        self.entry_id = entry.id if entry else 0
        self._draft_sent = False
        self._loading = True
        try:
            self.text.setPlainText(entry.text if entry else "")
            self._show_fields(entry)
        finally:
            self._loading = False
        self.dirty = False
        number = f" · entry {entry.position + 1}" if entry and entry.position else ""
        self.heading.setText(f"<b>{day:%A %d %B %Y}</b>{number}")
        self.status.setText("saved" if entry else "new entry")
        self.delete_button.setEnabled(entry is not None)
        if self.preview_button.isChecked():
            self.preview.setMarkdown(self.text.toPlainText())

    def _show_fields(self, entry: JournalEntry | None) -> None:
        mood = entry.mood if entry else None
        self.mood.setCurrentIndex(self.mood.findData(mood) if mood else 0)
        self.mood_tags.setText(", ".join(entry.mood_tags) if entry else "")
        self.tags.setText(", ".join(entry.tags) if entry else "")
        self.keep_out.setChecked(bool(entry and entry.keep_out))

    @property
    def is_untouched_draft(self) -> bool:
        """A new entry nobody has typed into or asked to save: safe to replace."""
        return not (self.entry_id or self.dirty or self._draft_sent)

    def on_saved(self, token: int, entry: JournalEntry) -> None:
        """The worker wrote a save: a draft learns its entry id."""
        if token == self.token:
            self.entry_id = entry.id
            self.delete_button.setEnabled(True)
            if self._reflect_pending:
                self._reflect_pending = False
                self._ask(entry.id)
            if not self.dirty:
                self.status.setText("saved")

    def on_changed(self, entry: JournalEntry) -> None:
        """An entry changed elsewhere (quick capture, mood): show it if it is this one and
        nothing typed here is waiting to be saved."""
        if entry.id != self.entry_id or self.dirty:
            return
        self._loading = True
        try:
            if self.text.toPlainText() != entry.text:
                self.text.setPlainText(entry.text)
            self._show_fields(entry)
        finally:
            self._loading = False

    def append(self, text: str) -> None:
        """Quick capture into the entry shown here: a new paragraph, saved at once."""
        current = self.text.toPlainText().rstrip()
        self.text.setPlainText(f"{current}\n\n{text.strip()}" if current else text.strip())
        self.flush()

    # ---- saving --------------------------------------------------------------------------
    def _changed(self) -> None:
        if self._loading:
            return
        self.dirty = self._edited = True
        self.status.setText("editing…")
        self.timer.start()

    def _draft_fields(self) -> dict[str, Any]:
        return {
            "mood": self.mood.currentData(),
            "mood_tags": split_tags(self.mood_tags.text()),
            "tags": split_tags(self.tags.text()),
            "keep_out": self.keep_out.isChecked(),
        }

    def flush(self) -> None:
        """Ask for the text to be saved now if anything changed since the last save."""
        self.timer.stop()
        if not self.dirty:
            return
        self.dirty = False
        self._draft_sent = self._draft_sent or not self.entry_id
        fields = self._draft_fields() if not self.entry_id else {}
        self.save_requested.emit(
            self.token, self.entry_id, self.day, self.text.toPlainText(), fields
        )
        self.status.setText("saved")

    # ---- follow-up questions -------------------------------------------------------------
    def set_follow_ups(self, on: bool) -> None:
        """The user setting: show "Reflect" and ask when leaving an entry written in."""
        self.follow_ups = on
        self.reflect_button.setVisible(on)

    def reflect(self) -> None:
        """Save, then ask for a follow-up question about the entry shown (never a kept-out
        or blank one: those never reach the model)."""
        self.flush()
        if self.keep_out.isChecked():
            self._show_question("This entry is kept out of memory, so the agent does not see it.")
            return
        if not self.text.toPlainText().strip():
            self._show_question("Write something first; then the agent can ask about it.")
            return
        self._edited = False
        if self.entry_id:
            self._ask(self.entry_id)
        else:
            self._reflect_pending = True  # asked once the first save names the entry
            self._show_question("Thinking of a question…")

    def _ask(self, entry_id: int) -> None:
        self._asked[entry_id] = self.day
        self._show_question("Thinking of a question…")
        self.reflect_requested.emit(entry_id)

    def show_question(self, entry_id: int, question: str) -> None:
        """The agent's follow-up question (or "" for none) about an entry it was asked on."""
        day = self._asked.pop(entry_id, None)
        if day is None:
            return
        if not question:
            if entry_id == self.entry_id:
                self._show_question("No follow-up question came to mind this time.")
            elif not self._asked:
                self.dismiss_question()
            return
        about = "" if entry_id == self.entry_id else f"About {day:%a} {day.day} {day:%b}: "
        self._show_question(f"{about}<b>{html.escape(question, quote=False)}</b>", question)

    def show_reflection_error(self, message: str) -> None:
        if self._asked or self._reflect_pending:
            self._asked.clear()
            self._show_question(html.escape(message, quote=False))

    def _show_question(self, text: str, question: str = "") -> None:
        self._question_text = question
        self.question.setText(text)
        self.answer_button.setVisible(bool(question))
        self.reflection.show()

    def dismiss_question(self) -> None:
        self._question_text = ""
        self.reflection.hide()

    def _answer(self) -> None:
        if self._question_text:
            self.answer_requested.emit(self._question_text)
            self.dismiss_question()

    def _mood_edited(self) -> None:
        if self._loading:
            return
        if not self.entry_id:
            self._save_draft_fields()
            return
        mood = self.mood.currentData()
        self.mood_changed.emit(self.entry_id, mood, split_tags(self.mood_tags.text()))

    def _tags_edited(self) -> None:
        if self._loading:
            return
        if not self.entry_id:
            self._save_draft_fields()
            return
        self.tags_changed.emit(self.entry_id, split_tags(self.tags.text()))

    def _keep_out_edited(self, on: bool) -> None:
        if self._loading:
            return
        if not self.entry_id:
            self._save_draft_fields()
            return
        self.flush()
        self.keep_out_changed.emit(self.entry_id, on)

    def _save_draft_fields(self) -> None:
        self.dirty = True
        self.flush()

    def _delete(self) -> None:
        """Delete the entry shown, after asking: a journal entry has no undo."""
        if not self.entry_id:
            return
        answer = QMessageBox.question(
            self,
            "Delete this entry?",
            f"Delete this entry of {self.day:%d %B %Y}? It is removed from the journal and "
            "from memory, and cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.timer.stop()
            self.dirty = False
            self.delete_requested.emit(self.entry_id)

    def _toggle_preview(self, on: bool) -> None:
        if on:
            self.flush()
            self.preview.setMarkdown(self.text.toPlainText())
        self.stack.setCurrentIndex(1 if on else 0)
        self.preview_button.setText("Edit" if on else "Preview")
