"""The Trash dialog: an agent's soft-deleted archival passages, to restore or delete for good.

A widget only: it shows the `TrashListing` it is given and asks for work with signals; the
`Trash` controller in app/ui/trash.py runs that work in its own thread. Emptying asks first, in
a box that names how many passages will be gone and whose default button is Cancel.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.messages import Passage
from app.ui.bubbles import dim_label
from app.ui.describe import plural, short, stamp, when

PASSAGE_ID = Qt.ItemDataRole.UserRole
COLUMNS = ("Passage", "Source", "Added", "Size")


@dataclass(frozen=True)
class TrashListing:
    """What the trash holds for one agent: the newest `passages` of `total`."""

    agent_id: str
    passages: tuple[Passage, ...]
    total: int


def _size(text: str) -> str:
    return plural(len(text), "char")


def _source(passage: Passage) -> str:
    return f"{passage.source} · {passage.location}" if passage.location else passage.source


class TrashDialog(QDialog):
    """Lists deleted passages (multi-select); Restore, Empty trash…, Close."""

    refresh_requested = Signal()
    restore_requested = Signal(object)  # list[str] of passage ids
    empty_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Trash — deleted passages")
        self._busy = False
        self._total = 0
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.note = dim_label()
        self.passages = QTreeWidget()
        self.passages.setHeaderLabels(list(COLUMNS))
        self.passages.setRootIsDecorated(False)
        self.passages.setAlternatingRowColors(True)
        self.passages.setUniformRowHeights(True)
        self.passages.setAccessibleName("Deleted passages")
        self.passages.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.passages.itemSelectionChanged.connect(self._sync)
        header = self.passages.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setAccessibleName("Restore selected passages")
        self.restore_button.clicked.connect(self._restore)
        self.empty_button = QPushButton("Empty trash…")
        self.empty_button.setAccessibleName("Empty the trash")
        self.empty_button.clicked.connect(self._empty)
        self.empty_button.setAutoDefault(False)  # Enter never starts the one destructive action
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        row = QHBoxLayout()
        row.addWidget(self.empty_button)
        row.addStretch(1)
        row.addWidget(self.restore_button)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.passages, 1)
        layout.addWidget(self.note)
        layout.addLayout(row)
        self.resize(760, 420)
        self.set_listing(None)

    # ---- what the controller tells it ----------------------------------------------------
    def set_listing(self, listing: TrashListing | None) -> None:
        """Show a listing (None: still loading); the selection is kept where it can be."""
        keep = set(self.selected_ids())
        self.passages.clear()
        if listing is None:
            self._total = 0
            self.heading.setText("Reading the trash…")
            self._sync()
            return
        self._total = listing.total
        for passage in listing.passages:
            self.passages.addTopLevelItem(self._item(passage, passage.id in keep))
        self.heading.setText(self._heading(listing))
        self._sync()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._sync()

    def show_note(self, text: str) -> None:
        self.note.setText(text)

    def selected_ids(self) -> list[str]:
        return [str(item.data(0, PASSAGE_ID)) for item in self.passages.selectedItems()]

    def row_count(self) -> int:
        return self.passages.topLevelItemCount()

    # ---- asking --------------------------------------------------------------------------
    def empty_box(self) -> QMessageBox:
        """The confirmation for emptying: how many go for good; Cancel is the default."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Empty the trash")
        box.setText(f"Delete {plural(self._total, 'passage')} for good?")
        box.setInformativeText(
            "They will be removed from archival memory and cannot be restored afterwards."
        )
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Delete for good")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        return box

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.passages.setFocus()
        self.refresh_requested.emit()

    # ---- internals -----------------------------------------------------------------------
    def _item(self, passage: Passage, selected: bool) -> QTreeWidgetItem:
        item = QTreeWidgetItem(
            [short(passage.text, 120), _source(passage), when(passage.created_at),
             _size(passage.text)]
        )  # fmt: skip
        item.setData(0, PASSAGE_ID, passage.id)
        item.setToolTip(0, passage.text)
        item.setToolTip(2, stamp(passage.created_at))
        item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setSelected(selected)
        return item

    def _heading(self, listing: TrashListing) -> str:
        if not listing.total:
            return "The trash is empty."
        shown = len(listing.passages)
        more = f" (the newest {shown:,} are shown)" if shown < listing.total else ""
        return (
            f"{plural(listing.total, 'passage')} in the trash{more}. They are hidden from search "
            "and from the agent; restore them, or empty the trash to delete them for good."
        )

    def _sync(self) -> None:
        self.restore_button.setEnabled(bool(self.passages.selectedItems()) and not self._busy)
        self.empty_button.setEnabled(self._total > 0 and not self._busy)

    def _restore(self) -> None:
        ids = self.selected_ids()
        if ids and not self._busy:
            self.restore_requested.emit(ids)

    def _empty(self) -> None:
        if not self._total or self._busy:
            return
        if self.empty_box().exec() == QMessageBox.StandardButton.Yes:
            self.empty_requested.emit()
