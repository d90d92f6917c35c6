"""The Recall and Archival tabs: search boxes, result lists and pagers.

Searches run in the worker thread (the embedder and the stores belong to it); these widgets only
ask and show. Deleting archival passages (only while the agent is idle) moves them to the trash:
"Undo" brings them straight back, and "Trash…" opens the Trash dialog (app/ui/trash.py).
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.messages import Page
from app.ui.bubbles import dim_label
from app.ui.describe import (
    ArchivalResults,
    RecallResults,
    passage_meta,
    plural,
    recall_line,
    short,
)

PASSAGE_ID = Qt.ItemDataRole.UserRole


class Pager(QWidget):
    """'page 2 of 5, total 93' with Previous/Next."""

    page_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._page = 1
        self.label = dim_label(wrap=False)
        self.previous = QPushButton("Previous")
        self.next = QPushButton("Next")
        self.previous.clicked.connect(lambda: self.page_requested.emit(self._page - 1))
        self.next.clicked.connect(lambda: self.page_requested.emit(self._page + 1))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.previous)
        layout.addWidget(self.next)
        self.show_page(None)

    @property
    def page(self) -> int:
        return self._page

    def show_page(self, page: Page[object] | None) -> None:
        if page is None:
            self.label.setText("")
            self.previous.setEnabled(False)
            self.next.setEnabled(False)
            return
        self._page = page.page
        self.label.setText(page.header())
        self.previous.setEnabled(page.page > 1)
        self.next.setEnabled(page.page < page.pages)


def _result_list(name: str) -> QListWidget:
    results = QListWidget()
    results.setWordWrap(True)
    results.setAlternatingRowColors(True)
    results.setSpacing(2)
    results.setAccessibleName(name)
    results.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return results


class RecallPanel(QWidget):
    """Search every past message by words or by a date range."""

    search_text = Signal(str, int)
    search_dates = Signal(object, object, int)  # date, date, page

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._last: tuple[str, object, object] = ("text", "", "")
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search the conversation…")
        self.query.setAccessibleName("Search recall memory")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(lambda: self._search_text(1))
        search = QPushButton("Search")
        search.clicked.connect(lambda: self._search_text(1))
        today = QDate.currentDate()
        self.start = self._date_edit(today.addDays(-7), "From date")
        self.end = self._date_edit(today, "To date")
        by_date = QPushButton("Search dates")
        by_date.clicked.connect(lambda: self._search_dates(1))
        self.results = _result_list("Recall results")
        self.heading = QLabel("Search what was said, including messages no longer in context.")
        self.heading.setWordWrap(True)
        self.pager = Pager()
        self.pager.page_requested.connect(self._page)
        words = QHBoxLayout()
        words.addWidget(self.query, 1)
        words.addWidget(search)
        dates = QHBoxLayout()
        dates.addWidget(QLabel("From"))
        dates.addWidget(self.start)
        dates.addWidget(QLabel("to"))
        dates.addWidget(self.end)
        dates.addWidget(by_date)
        dates.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(words)
        layout.addLayout(dates)
        layout.addWidget(self.heading)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.pager)

    def _date_edit(self, value: QDate, name: str) -> QDateEdit:
        edit = QDateEdit(value)
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setAccessibleName(name)
        return edit

    def _search_text(self, page: int) -> None:
        query = self.query.text().strip()
        if query:
            self._last = ("text", query, None)
            self.search_text.emit(query, page)

    def _search_dates(self, page: int) -> None:
        start: date = self.start.date().toPython()  # type: ignore[assignment]
        end: date = self.end.date().toPython()  # type: ignore[assignment]
        self._last = ("dates", start, end)
        self.search_dates.emit(start, end, page)

    def _page(self, page: int) -> None:
        kind, first, second = self._last
        if kind == "text":
            self.search_text.emit(first, page)
        else:
            self.search_dates.emit(first, second, page)

    def set_results(self, results: RecallResults) -> None:
        self.results.clear()
        shown = [m for m in results.page.items if m.text]
        for message in shown:
            item = QListWidgetItem(recall_line(message))
            item.setToolTip(message.text)
            self.results.addItem(item)
        total = results.page.total
        found = f"{plural(total, 'message')} for {results.what}"
        self.heading.setText(found if total else "Nothing found.")
        self.pager.show_page(results.page)  # type: ignore[arg-type]


class ArchivalPanel(QWidget):
    """Search long-term passages; see where each came from; move what should go to the trash."""

    search = Signal(str, int, str)  # query, page, source ("" = every source)
    delete = Signal(object)  # list[str] of passage ids, to move to the trash
    restore = Signal(object)  # list[str] of passage ids, to take out of the trash (Undo)
    trash_requested = Signal()  # open the Trash dialog

    SOURCES = (
        ("Every source", ""),
        ("Documents", "document"),
        ("Journal", "journal"),
        ("Saved by the agent", "agent"),
        ("Imported conversations", "conversation"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._busy = False
        self._query = ""
        self._trashed: list[str] = []
        self.query = QLineEdit()
        self.query.setPlaceholderText("Search archival memory…  (Ctrl+F)")
        self.query.setAccessibleName("Search archival memory")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(lambda: self._search(1))
        go = QPushButton("Search")
        go.clicked.connect(lambda: self._search(1))
        self.source = QComboBox()
        for label, value in self.SOURCES:
            self.source.addItem(label, value)
        self.source.setAccessibleName("Only passages from")
        self.source.currentIndexChanged.connect(lambda _index: self._search(1))
        self.results = _result_list("Archival results")
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.results.itemSelectionChanged.connect(self._sync)
        self.heading = QLabel("Saved facts and your documents.")
        self.heading.setWordWrap(True)
        self.delete_button = QPushButton("Move to trash")
        self.delete_button.setAccessibleName("Move selected passages to the trash")
        self.delete_button.clicked.connect(self._delete)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo the move to the trash")
        self.undo_button.clicked.connect(self._undo)
        self.undo_button.hide()
        self.trash_button = QPushButton("Trash…")
        self.trash_button.setAccessibleName("Open the trash of deleted passages")
        self.trash_button.clicked.connect(self.trash_requested.emit)
        self.trashed_note = dim_label(wrap=False)
        self.pager = Pager()
        self.pager.page_requested.connect(
            lambda page: self.search.emit(self._query, page, self.source.currentData())
        )
        row = QHBoxLayout()
        row.addWidget(self.query, 1)
        row.addWidget(self.source)
        row.addWidget(go)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.heading)
        layout.addWidget(self.results, 1)
        layout.addWidget(self.pager)
        actions = QHBoxLayout()
        actions.addWidget(self.trash_button)
        actions.addWidget(self.trashed_note, 1)
        actions.addWidget(self.undo_button)
        actions.addWidget(self.delete_button)
        layout.addLayout(actions)
        self._sync()

    def _search(self, page: int) -> None:
        """An empty query lists the newest passages."""
        self._query = self.query.text().strip()
        self.search.emit(self._query, page, self.source.currentData())

    def refresh(self) -> None:
        """Run the last search again, on the page shown (passages came back or went)."""
        self.search.emit(self._query, self.pager.page, self.source.currentData())

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._sync()

    def _sync(self) -> None:
        self.delete_button.setEnabled(bool(self.results.selectedItems()) and not self._busy)

    def set_results(self, results: ArchivalResults) -> None:
        self.results.clear()
        for passage in results.page.items:
            item = QListWidgetItem(f"{short(passage.text, 300)}\n{passage_meta(passage)}")
            item.setData(PASSAGE_ID, passage.id)
            item.setToolTip(passage.text)
            self.results.addItem(item)
        total = results.page.total
        what = f"for '{results.query}'" if results.query else "in all, newest first"
        self.heading.setText(f"{plural(total, 'passage')} {what}" if total else "Nothing found.")
        self.pager.show_page(results.page)  # type: ignore[arg-type]
        self._sync()

    def _delete(self) -> None:
        """No question asked: the move is undone with Undo here, or from the Trash dialog."""
        ids = [str(item.data(PASSAGE_ID)) for item in self.results.selectedItems()]
        if not ids or self._busy:
            return
        self._trashed = ids
        self.trashed_note.setText(f"{plural(len(ids), 'passage')} moved to the trash.")
        self.undo_button.show()
        self.delete.emit(ids)

    def forget_undo(self, *_: object) -> None:
        """Drop the Undo offer (another agent is shown now)."""
        self._trashed = []
        self.undo_button.hide()
        self.trashed_note.setText("")

    def _undo(self) -> None:
        ids = self._trashed
        self.forget_undo()
        if ids:
            self.restore.emit(ids)
