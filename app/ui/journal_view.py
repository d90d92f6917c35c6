"""The journal view: calendar with the written days marked and the streak, the day's entries,
the entry editor, and the search / looking-back panels.

It renders what the journal worker reports and asks through `JournalRequests`; it never
touches the store itself. It keeps a cache of the day's entries, updated with every save it
asks for, so going back to an entry whose save is still queued shows what was typed, not what
the disk had a moment ago.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat
from PySide6.QtWidgets import (
    QCalendarWidget,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.journal import JournalEntry, Review, ReviewKind, ReviewPeriod
from app.ui.journal_chart import mood_colour
from app.ui.journal_editor import EntryEditor
from app.ui.journal_panels import LookBackPanel, SearchPanel, first_line
from app.ui.journal_worker import JournalRequests, MonthView

ENTRY_ROLE = Qt.ItemDataRole.UserRole


def qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class JournalView(QWidget):
    review_requested = Signal(str, str)  # kind, ISO day in the period: for the agent worker

    def __init__(self, requests: JournalRequests, today: Callable[[], date]) -> None:
        super().__init__()
        self._wanted_entry = 0  # an entry to show once its day loads (a clicked citation)
        self.requests = requests
        self._today = today  # the runtime's clock: the view may stay open past midnight
        self.selected = today()
        self.marked: dict[date, int | None] = {}
        self.entries: dict[int, JournalEntry] = {}
        self.closed = False  # set at shutdown: reports still queued are dropped
        self._build()
        self._wire()

    def _build(self) -> None:
        self.calendar = QCalendarWidget()
        self.calendar.setAccessibleName("Journal calendar")
        self.calendar.setGridVisible(False)
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.calendar.setMaximumDate(qdate(self.today))
        self.calendar.setSelectedDate(qdate(self.today))
        self.streak = QLabel()
        self.streak.setAccessibleName("Streak")
        self.streak.setWordWrap(True)
        self.day_list = QListWidget()
        self.day_list.setAccessibleName("Entries of the day")
        self.day_list.setWordWrap(True)
        self.day_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.new_button = QPushButton("New entry")
        self.today_button = QPushButton("Today")
        buttons = QHBoxLayout()
        buttons.addWidget(self.today_button)
        buttons.addWidget(self.new_button)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.calendar)
        column.addWidget(self.streak)
        column.addWidget(QLabel("<b>Entries</b>"))
        column.addWidget(self.day_list, 1)
        column.addLayout(buttons)

        self.editor = EntryEditor()
        self.search = SearchPanel(self.today)
        self.look_back = LookBackPanel()
        self.side = QTabWidget()
        self.side.addTab(self.look_back, "Looking back")
        self.side.addTab(self.search, "Search")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.editor)
        splitter.addWidget(self.side)
        splitter.setStretchFactor(1, 3)
        splitter.setStretchFactor(2, 2)
        splitter.setSizes([300, 520, 420])
        self.notice = QLabel()
        self.notice.setAccessibleName("Journal notice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.notice)

    def _wire(self) -> None:
        r = self.requests
        self.calendar.selectionChanged.connect(self._day_picked)
        self.calendar.currentPageChanged.connect(r.load_month.emit)
        self.day_list.currentItemChanged.connect(self._entry_picked)
        self.new_button.clicked.connect(self.new_entry)
        self.today_button.clicked.connect(self.go_to_today)
        self.editor.save_requested.connect(self._save)
        self.editor.mood_changed.connect(r.set_mood.emit)
        self.editor.tags_changed.connect(r.set_tags.emit)
        self.editor.keep_out_changed.connect(r.set_keep_out.emit)
        self.editor.delete_requested.connect(r.delete.emit)
        self.search.search.connect(r.search.emit)
        self.search.open_day.connect(self.open_day)
        self.look_back.open_day.connect(self.open_day)
        self.look_back.write_review.connect(self.write_review)
        self.editor.reflect_requested.connect(r.reflect.emit)

    # ---- asking --------------------------------------------------------------------------
    def load(self) -> None:
        """Ask for everything shown (the worker answers through the slots below)."""
        self.calendar.setMaximumDate(qdate(self.today))
        page = self.calendar
        self.requests.load_month.emit(page.yearShown(), page.monthShown())
        self.requests.load_day.emit(self.selected)
        self.requests.refresh_look_back.emit()

    def open_day(self, day: date) -> None:
        if day == date.min:
            return
        self.calendar.setSelectedDate(qdate(day))  # -> _day_picked
        self.calendar.setCurrentPage(day.year, day.month)

    def open_entry(self, day: date, entry_id: int = 0) -> None:
        """Go to a day and, once it has loaded, to one of its entries (a cited passage)."""
        self._wanted_entry = entry_id
        if day == self.selected:
            self.requests.load_day.emit(day)
        self.open_day(day)

    def write_review(self, kind: str) -> None:
        """Ask for the review of the week or month that holds the selected day (the one the
        user is looking at; the current one is reviewed so far)."""
        review_kind: ReviewKind = "weekly" if kind == "weekly" else "monthly"
        period = ReviewPeriod.containing(review_kind, self.selected)
        self.editor.flush()
        self.look_back.set_writing(f"{period.kind} review of {period.label}")
        self.review_requested.emit(period.kind, period.start.isoformat())

    def on_review_written(self, review: Review) -> None:
        if self.closed:
            return
        self.look_back.review_done(
            f"Wrote the {review.period.kind} review of {review.period.label}."
        )
        self.requests.refresh_look_back.emit()

    def on_reflection_failed(self, what: str, message: str) -> None:
        """A review or follow-up question could not be written: say so where it was asked."""
        if self.closed:
            return
        if what == "review":
            self.look_back.review_done(message, failed=True)
        else:
            self.editor.show_reflection_error(message)

    @property
    def today(self) -> date:
        return self._today()

    def go_to_today(self) -> None:
        self.calendar.setMaximumDate(qdate(self.today))
        self.open_day(self.today)

    def new_entry(self) -> None:
        self.editor.flush()
        self.requests.create.emit(self.selected)

    def _day_picked(self) -> None:
        day = pydate(self.calendar.selectedDate())
        if day == self.selected:
            return
        self.editor.flush()
        self.selected = day
        self.requests.load_day.emit(day)

    def _entry_picked(self, item: QListWidgetItem | None, _old: Any = None) -> None:
        if item is None:
            return
        entry = self.entries.get(item.data(ENTRY_ROLE))
        if entry is not None and entry.id != self.editor.entry_id:
            self.editor.show_entry(entry.day, entry)

    def _save(self, token: int, entry_id: int, day: date, text: str, fields: object) -> None:
        if entry_id in self.entries:  # what is shown if the user comes back before the disk
            self.entries[entry_id] = replace(self.entries[entry_id], text=text)
            self._update_row(self.entries[entry_id])
        self.requests.save.emit(token, entry_id, day, text, fields)

    # ---- worker reports ------------------------------------------------------------------
    def on_imported(self, count: int) -> None:
        if count and not self.closed:
            self.load()

    def show_notice(self, text: str) -> None:
        """A finished export/import or a problem, under the view."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def set_month(self, view: MonthView) -> None:
        if self.closed:
            return
        for day in self.marked:
            self.calendar.setDateTextFormat(qdate(day), QTextCharFormat())
        self.marked = dict(view.days)
        for day, mood in view.days.items():
            fmt = QTextCharFormat()
            fmt.setFontWeight(QFont.Weight.Bold)
            tint = QColor(mood_colour(mood)) if mood is not None else QColor("#5b8def")
            tint.setAlpha(90)
            fmt.setBackground(tint)
            self.calendar.setDateTextFormat(qdate(day), fmt)
        s = view.stats
        days = "day" if s.current_streak == 1 else "days"
        today = "" if s.written_today or not s.current_streak else " — write today to keep it"
        self.streak.setText(
            f"Streak: <b>{s.current_streak}</b> {days}{today}<br>"
            f"longest {s.longest_streak} · {s.days_written} days written"
        )

    def set_day(self, day: date, entries: list[JournalEntry]) -> None:
        if self.closed:
            return
        if day != self.selected:
            return
        self.entries = {e.id: e for e in entries}
        ids = [e.id for e in entries]
        self.day_list.blockSignals(True)
        self.day_list.clear()
        for entry in entries:
            item = QListWidgetItem()
            item.setData(ENTRY_ROLE, entry.id)
            self.day_list.addItem(item)
            self._update_row(entry)
        self.day_list.blockSignals(False)
        ed = self.editor
        wanted, self._wanted_entry = self._wanted_entry, 0
        if wanted in ids and ed.entry_id != wanted:
            ed.show_entry(day, self.entries[wanted])
        elif ed.day != day or (ed.entry_id and ed.entry_id not in ids) or ed.is_untouched_draft:
            ed.show_entry(day, entries[0] if entries else None)
        self._select_row(ed.entry_id)

    def on_created(self, entry: JournalEntry) -> None:
        """Open the entry "New entry" made (its row came with the day just before)."""
        if self.closed or entry.day != self.selected:
            return
        self.entries[entry.id] = entry
        self.editor.show_entry(entry.day, entry)
        self._select_row(entry.id)
        self.editor.text.setFocus()

    def _update_row(self, entry: JournalEntry) -> None:
        for i in range(self.day_list.count()):
            item = self.day_list.item(i)
            if item.data(ENTRY_ROLE) == entry.id:
                mood = f"  [{entry.mood}/5]" if entry.mood else ""
                lock = "[private] " if entry.keep_out else ""
                item.setText(f"{lock}{first_line(entry.text) or '(empty)'}{mood}")

    def _select_row(self, entry_id: int) -> None:
        for i in range(self.day_list.count()):
            if self.day_list.item(i).data(ENTRY_ROLE) == entry_id:
                self.day_list.blockSignals(True)
                self.day_list.setCurrentRow(i)
                self.day_list.blockSignals(False)

    def on_saved(self, token: int, entry: JournalEntry) -> None:
        if self.closed:
            return
        self.editor.on_saved(token, entry)
        if token == self.editor.token:
            self._select_row(entry.id)
        new = entry.id not in self.entries
        if entry.day == self.selected:
            self.entries[entry.id] = replace(entry, text=self.entries.get(entry.id, entry).text)
        if new or entry.day not in self.marked:
            self.requests.load_day.emit(entry.day)
            self.requests.load_month.emit(self.calendar.yearShown(), self.calendar.monthShown())

    def on_changed(self, entry: JournalEntry) -> None:
        """Mood, tags, keep-out or a quick capture changed an entry."""
        if self.closed:
            return
        if entry.id in self.entries:
            self.entries[entry.id] = entry
            self._update_row(entry)
        self.editor.on_changed(entry)
        if entry.day == self.selected and entry.id not in self.entries:
            self.requests.load_day.emit(entry.day)
        self.requests.load_month.emit(self.calendar.yearShown(), self.calendar.monthShown())
        self.requests.refresh_look_back.emit()
