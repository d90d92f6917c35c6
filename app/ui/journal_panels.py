"""The journal's "looking back" panels: search, On this day, reviews and the mood chart.

Each panel only renders what the journal worker sends and emits what the user asks for; a
result that names an entry is clickable (`open_day`), so the view can jump to its day.
"""

from __future__ import annotations

import html
from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.ui.journal_chart import MoodChart
from app.ui.journal_worker import LookBack, SearchResults

DAY_ROLE = Qt.ItemDataRole.UserRole


def first_line(text: str, limit: int = 90) -> str:
    """A one-line preview: the first line, or "Heading — first line" when it is a heading."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    line = lines[0].lstrip("#>*- ").strip()
    if lines[0].startswith("#") and len(lines) > 1:
        line = f"{line} — {lines[1].lstrip('#>*- ').strip()}"
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _to_date(q: QDate) -> date:
    return date(q.year(), q.month(), q.day())


class DayList(QListWidget):
    """A list whose rows carry a day; activating a row asks to open that day."""

    open_day = Signal(object)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setAccessibleName(name)
        self.setWordWrap(True)
        self.itemActivated.connect(self._open)
        self.itemClicked.connect(self._open)

    def add(self, day: date, text: str) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(DAY_ROLE, day)
        self.addItem(item)
        return item

    def _open(self, item: QListWidgetItem) -> None:
        day = item.data(DAY_ROLE)
        if isinstance(day, date):
            self.open_day.emit(day)


class SearchPanel(QWidget):
    """Words (SQLite full text, all entries) and meaning (archival passages) within dates."""

    search = Signal(str, object, object, bool)  # query, start, end, by meaning too

    def __init__(self, today: date) -> None:
        super().__init__()
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search the journal…")
        self.query.setAccessibleName("Journal search")
        self.query.returnPressed.connect(self.run)
        self.use_dates = QCheckBox("from")
        self.start = QDateEdit(QDate(today.year - 1, today.month, 1))
        self.end = QDateEdit(QDate(today.year, today.month, today.day))
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("d MMM yyyy")
        self.meaning = QCheckBox("by meaning too")
        self.meaning.setChecked(True)
        self.meaning.setToolTip("Also search memory's passages (never kept-out entries)")
        go = QPushButton("Search")
        go.clicked.connect(self.run)
        self.results = DayList("Search results")
        self.open_day = self.results.open_day
        dates = QHBoxLayout()
        dates.addWidget(self.use_dates)
        dates.addWidget(self.start)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.end)
        dates.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(go)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addLayout(dates)
        layout.addWidget(self.meaning)
        layout.addWidget(self.results, 1)

    def run(self) -> None:
        on = self.use_dates.isChecked()
        start = _to_date(self.start.date()) if on else None
        end = _to_date(self.end.date()) if on else None
        self.search.emit(self.query.text(), start, end, self.meaning.isChecked())

    def set_results(self, found: SearchResults) -> None:
        self.results.clear()
        for match in found.words:
            snippet = " ".join(match.snippet.split())
            lock = "[private] " if match.entry.keep_out else ""
            self.results.add(match.entry.day, f"{lock}{match.entry.day:%a %d %b %Y} — {snippet}")
        seen = {m.entry.id for m in found.words}
        extra = [(d, e, t) for d, e, t in found.meaning if e not in seen]
        if extra:
            header = self.results.add(date.min, "Related by meaning:")
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            for day, _, text in extra:
                body = first_line(text.split("\n", 1)[-1])
                self.results.add(day, f"{day:%a %d %b %Y} — {body}")
        if not self.results.count():
            self.results.add(date.min, "Nothing found.").setFlags(Qt.ItemFlag.NoItemFlags)


class LookBackPanel(QWidget):
    """On this day, the weekly/monthly reviews (written on request here) and the mood chart."""

    write_review = Signal(str)  # "weekly" or "monthly": for the period of the selected day

    def __init__(self) -> None:
        super().__init__()
        self.weekly_button = QPushButton("Write weekly review")
        self.monthly_button = QPushButton("Write monthly review")
        for button, kind in ((self.weekly_button, "weekly"), (self.monthly_button, "monthly")):
            button.setToolTip(f"The agent writes a {kind} review of the selected day's {kind[:-2]}")
            button.clicked.connect(lambda _=False, k=kind: self.write_review.emit(k))
        self.review_status = QLabel()
        self.review_status.setAccessibleName("Review status")
        self.review_status.setWordWrap(True)
        self.review_status.hide()
        self.on_this_day = DayList("On this day")
        self.open_day = self.on_this_day.open_day
        self.reviews = QTextBrowser()
        self.reviews.setAccessibleName("Reviews")
        self.chart = MoodChart()
        self.bucket = QComboBox()
        self.bucket.addItems(["week", "month"])
        self.bucket.currentTextChanged.connect(self._show_chart)
        self._data: LookBack | None = None
        heading = QHBoxLayout()
        heading.addWidget(QLabel("<b>Mood</b> by"))
        heading.addWidget(self.bucket)
        heading.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>On this day</b>"))
        layout.addWidget(self.on_this_day, 1)
        review_row = QHBoxLayout()
        review_row.addWidget(QLabel("<b>Reviews</b>"))
        review_row.addStretch(1)
        review_row.addWidget(self.weekly_button)
        review_row.addWidget(self.monthly_button)
        layout.addLayout(review_row)
        layout.addWidget(self.review_status)
        layout.addWidget(self.reviews, 1)
        layout.addLayout(heading)
        layout.addWidget(self.chart, 2)

    def set_data(self, data: LookBack) -> None:
        self._data = data
        self.on_this_day.clear()
        for item in data.on_this_day:
            ago = item.months_ago
            when = (
                f"{ago // 12} year{'s' * (ago >= 24)} ago"
                if ago % 12 == 0
                else (f"{ago} month{'s' * (ago > 1)} ago")
            )
            self.on_this_day.add(item.entry.day, f"{when} — {first_line(item.entry.text)}")
        if not data.on_this_day:
            self.on_this_day.add(date.min, "Nothing written on this day before.").setFlags(
                Qt.ItemFlag.NoItemFlags
            )
        parts = [
            f"<p><b>{html.escape(r.period.kind.capitalize())} review, "
            f"{html.escape(r.period.label)}</b><br>{html.escape(r.text)}</p>"
            for r in data.reviews
        ]
        self.reviews.setHtml("".join(parts) or "<i>No reviews yet.</i>")
        self._show_chart(self.bucket.currentText())

    def set_writing(self, what: str) -> None:
        """Busy: a review is being written (the buttons wait for it)."""
        self.weekly_button.setEnabled(False)
        self.monthly_button.setEnabled(False)
        self.review_status.setText(f"Writing the {html.escape(what)}…")
        self.review_status.show()

    def review_done(self, message: str, *, failed: bool = False) -> None:
        """Not busy any more; `message` says what was written or why it was not."""
        self.weekly_button.setEnabled(True)
        self.monthly_button.setEnabled(True)
        colour = "#b3261e" if failed else "#2e7d32"
        self.review_status.setText(f'<span style="color:{colour}">{html.escape(message)}</span>')
        self.review_status.setVisible(bool(message))

    def _show_chart(self, bucket: str) -> None:
        if self._data is None:
            return
        series = self._data.weekly if bucket == "week" else self._data.monthly
        self.chart.set_points([(p.start, p.average, p.count) for p in series], bucket)
