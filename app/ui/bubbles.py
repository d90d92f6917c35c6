"""The pieces a conversation is drawn with: message bubbles and small dim fold-out lines.

Colours come from the palette's roles (Highlight for the user's bubbles, Base for the agent's,
PlaceholderText for dim lines), so light and dark themes both work and a theme change while
running repaints correctly. A streaming bubble re-renders its Markdown at most every 40 ms.
"""

from __future__ import annotations

import html
import math

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QFont,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.messages import Passage
from app.ui.describe import citation_label, short

RADIUS = 10
H_MARGINS = 24
RENDER_DELAY_MS = 40


def small_font(widget: QWidget) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.88))
    return font


def dim_label(text: str = "", *, wrap: bool = True) -> QLabel:
    label = QLabel(text)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setFont(small_font(label))
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class Bubble(QFrame):
    """One message: Markdown for the agent, plain text for the user, a small footer line."""

    source_clicked = Signal(object)  # Passage

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.final = False
        self._text = text
        self._fill = QPalette.ColorRole.Highlight if role == "user" else QPalette.ColorRole.Base
        ink = QPalette.ColorRole.HighlightedText if role == "user" else QPalette.ColorRole.Text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(H_MARGINS // 2, 8, H_MARGINS // 2, 8)
        layout.setSpacing(4)
        self.body = QLabel()
        self.body.setWordWrap(True)
        self.body.setForegroundRole(ink)
        self.body.setTextFormat(
            Qt.TextFormat.PlainText if role == "user" else Qt.TextFormat.MarkdownText
        )
        self.body.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
        )
        self.body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.footer = QLabel()
        self.footer.setFont(small_font(self.footer))
        dim = QPalette.ColorRole.PlaceholderText
        self.footer.setForegroundRole(ink if role == "user" else dim)
        self.footer.setWordWrap(True)
        self.footer.linkActivated.connect(self._open_source)
        self.footer.hide()
        self._sources: tuple[Passage, ...] = ()
        layout.addWidget(self.body)
        layout.addWidget(self.footer)
        self.setAccessibleName("your message" if role == "user" else "assistant's reply")
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(RENDER_DELAY_MS)
        self._render_timer.timeout.connect(self._render)
        self._render()

    @property
    def text(self) -> str:
        return self._text

    def append(self, text: str) -> None:
        """Stream more text in (rendered soon, coalescing bursts of deltas)."""
        self._text += text
        if not self._render_timer.isActive():
            self._render_timer.start()

    def set_text(self, text: str) -> None:
        self._text = text
        self._render_timer.stop()
        self._render()

    def _render(self) -> None:
        self.body.setText(self._text or "…")
        self.setAccessibleDescription(short(self._text, 200))
        self._fit()

    def set_max_width(self, width: int) -> None:
        self.setMaximumWidth(width)
        self._fit()

    def _fit(self) -> None:
        """As wide as the text wants, up to the maximum: QLabel's own wrapping heuristic makes
        long messages tall and narrow."""
        room = self.maximumWidth() - H_MARGINS
        if room <= 0 or room > 10_000:
            return
        doc = QTextDocument()
        doc.setDefaultFont(self.body.font())
        if self.body.textFormat() == Qt.TextFormat.MarkdownText:
            doc.setMarkdown(self._text or "…")
        else:
            doc.setPlainText(self._text or "…")
        doc.setTextWidth(room)
        wanted = math.ceil(doc.idealWidth()) + 8
        self.body.setMinimumWidth(min(wanted, room))

    def set_footer(self, text: str) -> None:
        self.footer.setTextFormat(Qt.TextFormat.PlainText)
        self.footer.setText(text)
        self.footer.setVisible(bool(text))

    def add_footer(self, text: str) -> None:
        current = self.footer.text()
        self.set_footer(f"{current}  {text}".strip())

    def set_sources(self, passages: tuple[Passage, ...]) -> None:
        """'Sources:' and one link per passage the reply drew on; a click emits
        `source_clicked` with the passage (the window shows it in the Archival tab)."""
        self._sources = tuple(passages)
        if not passages:
            self.set_footer("")
            return
        lines = [
            f'<a href="source:{i}">[{i}] {html.escape(citation_label(p))}</a>'
            f" — {html.escape(short(p.text, 80))}"
            for i, p in enumerate(passages, 1)
        ]
        self.footer.setTextFormat(Qt.TextFormat.RichText)
        self.footer.setText("Sources:<br>" + "<br>".join(lines))
        self.footer.setTextInteractionFlags(
            Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.footer.setToolTip("\n\n".join(p.text for p in passages))
        self.footer.setVisible(True)

    def _open_source(self, href: str) -> None:
        kind, _, number = href.partition(":")
        if kind == "source" and number.isdigit() and 0 < int(number) <= len(self._sources):
            self.source_clicked.emit(self._sources[int(number) - 1])

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        border = palette.color(QPalette.ColorRole.Mid)
        if self.role == "user":
            border = palette.color(self._fill)
        painter.setPen(QPen(border, 1))
        painter.setBrush(palette.color(self._fill))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)


class _ClickableLabel(QLabel):
    """A dim label that toggles its fold line when clicked."""

    clicked = Signal()

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.setFont(small_font(self))
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.clicked.emit()
        super().mousePressEvent(event)


class FoldLine(QWidget):
    """A small dim line (a thought, a memory action) that unfolds to show its details."""

    def __init__(self, summary: str, details: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(0)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.toggle = QToolButton()
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.setAutoRaise(True)
        self.toggle.setCheckable(True)
        self.toggle.setFixedSize(16, 16)
        self.toggle.setAccessibleName("show details")
        self.toggle.toggled.connect(self._set_open)
        self.summary = _ClickableLabel(summary)
        self.summary.clicked.connect(self._toggle_if_details)
        row.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        self.details = dim_label(details)
        self.details.setContentsMargins(20, 2, 0, 4)
        self.details.hide()
        layout.addWidget(self.details)
        self._details = details
        self._sync()

    def _toggle_if_details(self) -> None:
        if self._details:
            self.toggle.toggle()

    def set_summary(self, text: str) -> None:
        self.summary.setText(text)
        self.setAccessibleName(text)

    def set_details(self, text: str) -> None:
        self._details = text
        self.details.setText(text)
        self._sync()

    def append_details(self, text: str) -> None:
        self.set_details(self._details + text)

    @property
    def details_text(self) -> str:
        return self._details

    def _sync(self) -> None:
        self.toggle.setVisible(bool(self._details))
        self.setAccessibleName(self.summary.text())

    def _set_open(self, open_: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.details.setVisible(open_)


class ThoughtLine(FoldLine):
    """Inner thoughts: the first words show, the rest unfold; streams as the model writes."""

    def __init__(self, thoughts: str = "", parent: QWidget | None = None) -> None:
        super().__init__("thinking…", parent=parent)
        if thoughts:
            self.append(thoughts)

    def append(self, text: str) -> None:
        self.append_details(text)
        self.set_summary(f"thought: {short(self.details_text, 90)}")


class Divider(QWidget):
    """A centred dim note across the conversation (e.g. where the summary begins)."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 6)
        layout.addWidget(_rule(), 1)
        layout.addWidget(dim_label(text, wrap=False))
        layout.addWidget(_rule(), 1)
        self.setAccessibleName(text)


def _rule() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setForegroundRole(QPalette.ColorRole.Mid)
    return line


def row_for(bubble: Bubble) -> QWidget:
    """A full-width row holding a bubble on the right (user) or left (agent)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 2, 0, 2)
    if bubble.role == "user":
        layout.addStretch(1)
        layout.addWidget(bubble)
    else:
        layout.addWidget(bubble)
        layout.addStretch(1)
    row.setProperty("bubble", True)
    return row
