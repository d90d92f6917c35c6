"""The mood chart: average mood (1-5) per week or month, drawn with QPainter.

PySide6-Essentials has no QtCharts (it is in the Addons wheel, ~150 MiB we don't ship), so the
plot is a small painted widget: a 1-5 axis, a line through the averages with a dot per period
(bigger dots for periods with more check-ins), and period labels along the bottom, thinned to
fit. The points it draws are kept in `points` / `positions()` so tests can check the plot, not
just that a widget exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

MOOD_COLOURS = ("#c0392b", "#e67e22", "#f1c40f", "#7dbb42", "#27ae60")  # 1 … 5
MOOD_WORDS = ("awful", "low", "okay", "good", "great")
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 28, 34
INSET = 14  # first and last points stay clear of the axis labels


def mood_colour(mood: float) -> QColor:
    """The colour of a mood (rounded to 1-5)."""
    return QColor(MOOD_COLOURS[max(1, min(5, round(mood))) - 1])


class MoodChart(QWidget):
    """A line plot of (period start, average mood, check-ins) points, oldest first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.points: list[tuple[date, float, int]] = []
        self.bucket = "week"
        self.setAccessibleName("Mood chart")
        self.setMinimumSize(320, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(560, 260)

    def set_points(self, points: Sequence[tuple[date, float, int]], bucket: str) -> None:
        self.points, self.bucket = list(points), bucket
        self.setToolTip(self._summary())
        self.update()

    def _summary(self) -> str:
        if not self.points:
            return "No mood check-ins yet."
        avg = sum(p[1] for p in self.points) / len(self.points)
        return f"{len(self.points)} {self.bucket}s, average mood {avg:.1f}/5"

    def _plot_rect(self) -> QRectF:
        return QRectF(
            MARGIN_LEFT,
            MARGIN_TOP,
            max(1, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
            max(1, self.height() - MARGIN_TOP - MARGIN_BOTTOM),
        )

    def positions(self) -> list[QPointF]:
        """Where each point is drawn (widget coordinates)."""
        rect, n = self._plot_rect().adjusted(INSET, 0, -INSET, 0), len(self.points)
        step = rect.width() / (n - 1) if n > 1 else 0.0
        return [
            QPointF(
                rect.left() + (step * i if n > 1 else rect.width() / 2),
                rect.bottom() - (mood - 1) / 4 * rect.height(),
            )
            for i, (_, mood, _) in enumerate(self.points)
        ]

    def label(self, day: date) -> str:
        return f"{day:%b %Y}" if self.bucket == "month" else f"{day.day} {day:%b}"

    # ---- painting ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), self.palette().base())
        rect = self._plot_rect()
        self._draw_axis(painter, rect)
        title = f"Mood by {self.bucket}"
        painter.setPen(self.palette().text().color())
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(QRectF(0, 4, self.width(), 20), Qt.AlignmentFlag.AlignHCenter, title)
        painter.setFont(self.font())
        if not self.points:
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "No mood check-ins yet")
            painter.end()
            return
        self._draw_series(painter, rect)
        painter.end()

    def _draw_axis(self, painter: QPainter, rect: QRectF) -> None:
        grid = QPen(self.palette().mid().color(), 1, Qt.PenStyle.DotLine)
        for mood in range(1, 6):
            y = rect.bottom() - (mood - 1) / 4 * rect.height()
            painter.setPen(grid)
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.setPen(mood_colour(mood))
            painter.drawText(
                QRectF(0, y - 9, MARGIN_LEFT - 6, 18),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{MOOD_WORDS[mood - 1]} {mood}",
            )

    def _draw_series(self, painter: QPainter, rect: QRectF) -> None:
        spots = self.positions()
        path = QPainterPath(spots[0])
        for spot in spots[1:]:
            path.lineTo(spot)
        painter.setPen(QPen(self.palette().highlight().color(), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        most = max(p[2] for p in self.points)
        for spot, (_, mood, count) in zip(spots, self.points, strict=True):
            radius = 3.0 + 3.0 * count / most
            painter.setPen(QPen(QColor("#333333"), 1))
            painter.setBrush(mood_colour(mood))
            painter.drawEllipse(spot, radius, radius)
        self._draw_labels(painter, rect, spots)

    def _draw_labels(self, painter: QPainter, rect: QRectF, spots: list[QPointF]) -> None:
        metrics = painter.fontMetrics()
        width = max(metrics.horizontalAdvance(self.label(p[0])) for p in self.points) + 12
        every = max(1, int(len(spots) * width // max(1.0, rect.width())) + 1)
        painter.setPen(self.palette().text().color())
        for i, (spot, point) in enumerate(zip(spots, self.points, strict=True)):
            if i % every:
                continue
            left = min(max(0.0, spot.x() - width / 2), self.width() - width)
            box = QRectF(left, rect.bottom() + 6, width, 18)
            painter.drawText(box, Qt.AlignmentFlag.AlignHCenter, self.label(point[0]))
