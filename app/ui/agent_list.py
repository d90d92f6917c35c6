"""The sidebar of agents: pick one, create one (then name it in place), rename, delete.

Names are edited in the list itself (no dialog). Deleting asks for confirmation, and only while
the agent is idle; the button is disabled while it works.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.messages import AgentInfo
from app.core.prompts import AGENT_TEMPLATES
from app.ui.describe import unique_name

AGENT_ID = Qt.ItemDataRole.UserRole


class AgentList(QWidget):
    selected = Signal(str)  # agent id
    create = Signal(str, str)  # type: ignore[assignment]  # name, template; shadows QWidget.create
    rename = Signal(str, str)  # agent id, new name
    delete = Signal(str)  # agent id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        self._busy = False
        self._current = ""
        self._rename_when_listed = ""
        self.list = QListWidget()
        self.list.setAccessibleName("Agents")
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(self._on_edited)
        self.new_button = self._button("New", "New agent (Ctrl+N)", self.new_agent)
        self.rename_button = self._button("Rename", "Rename the agent (F2)", self.rename_current)
        self.delete_button = self._button("Delete", "Delete the agent", self.delete_current)
        self.template = QComboBox()
        self.template.addItems(list(AGENT_TEMPLATES))
        self.template.setAccessibleName("Starter memory for a new agent")
        self.template.setToolTip("What a new agent starts as: its persona and human blocks")
        row = QHBoxLayout()
        for button in (self.new_button, self.rename_button, self.delete_button):
            row.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.template)
        layout.addLayout(row)

    def _button(self, text: str, tip: str, slot: object) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAccessibleName(f"{text} agent")
        button.clicked.connect(slot)
        return button

    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_agents(self, agents: list[AgentInfo]) -> None:
        self._filling = True
        try:
            self.list.clear()
            for info in agents:
                item = QListWidgetItem(info.name)
                item.setData(AGENT_ID, info.id)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.list.addItem(item)
            self._select(self._current)
        finally:
            self._filling = False

    def set_current(self, info: AgentInfo) -> None:
        self._current = info.id
        self._filling = True
        try:
            self._select(info.id)
        finally:
            self._filling = False
        item = self.list.currentItem()
        if item is not None and info.name == self._rename_when_listed:
            self._rename_when_listed = ""
            self.list.editItem(item)

    def _select(self, agent_id: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(AGENT_ID) == agent_id:
                self.list.setCurrentRow(i)
                return

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.delete_button.setEnabled(not busy)

    def _on_current(self, item: QListWidgetItem | None, _previous: object) -> None:
        if self._filling or item is None:
            return
        agent_id = str(item.data(AGENT_ID))
        if agent_id != self._current:
            self.selected.emit(agent_id)

    def _on_edited(self, item: QListWidgetItem) -> None:
        if self._filling:
            return
        name = item.text().strip()
        if name:
            self.rename.emit(str(item.data(AGENT_ID)), name)

    def new_agent(self) -> None:
        """Create "new agent" (numbered if taken); its name opens for editing once it is shown."""
        name = unique_name("new agent", self.names())
        self._rename_when_listed = name
        self.create.emit(name, self.template.currentText())

    def rename_current(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def delete_current(self) -> None:
        item = self.list.currentItem()
        if item is None or self._busy:
            return
        answer = QMessageBox.question(
            self,
            "Delete agent",
            f"Delete '{item.text()}' with its whole conversation and memory? "
            "This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete.emit(str(item.data(AGENT_ID)))
