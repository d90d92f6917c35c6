"""A held core-memory edit shown in the chat, with Accept / Reject.

The model may not wipe most of a core-memory block on its own (app/core/proposals.py holds such
an edit); the user decides here. The card only emits the decision: the worker applies it.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.core import events as ev

PREVIEW_CHARS = 160


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


class ProposalCard(QFrame):
    """'The agent wants to rewrite core memory: human' + before/after + Accept / Reject."""

    decided = Signal(int, bool)  # proposal id, accepted

    def __init__(self, event: ev.MemoryProposed, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proposal_id = event.proposal_id
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Proposed edit of core memory {event.label}")
        title = QLabel(
            f"<b>The agent wants to rewrite most of core memory '{event.label}'.</b> "
            "Nothing is changed until you accept."
        )
        title.setWordWrap(True)
        before = QLabel(f"Now: {_preview(event.old_value) or '(empty)'}")
        after = QLabel(f"Proposed: {_preview(event.new_value) or '(empty)'}")
        for label in (before, after):
            label.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.reject_button = QPushButton("Reject")
        self.accept_button.setAccessibleName("Accept the proposed memory edit")
        self.reject_button.setAccessibleName("Reject the proposed memory edit")
        self.accept_button.clicked.connect(lambda: self._decide(True))
        self.reject_button.clicked.connect(lambda: self._decide(False))
        self.status = QLabel("")
        buttons = QHBoxLayout()
        buttons.addWidget(self.accept_button)
        buttons.addWidget(self.reject_button)
        buttons.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        for widget in (title, before, after):
            layout.addWidget(widget)
        layout.addLayout(buttons)

    def _decide(self, accepted: bool) -> None:
        self.accept_button.setEnabled(False)
        self.reject_button.setEnabled(False)
        self.status.setText("accepted" if accepted else "rejected: memory kept as it was")
        self.decided.emit(self.proposal_id, accepted)
