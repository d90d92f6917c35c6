"""Searches of the stores for the Recall and Archival tabs, in the worker thread.

`LibraryWorker` lives in the same QThread as the AgentWorker (the embedder that archival search
uses belongs there too) and follows its current agent. Searches are handled between the agent's
time slices, so they answer even while a reply streams.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from PySide6.QtCore import QObject, Signal, Slot

from app.core.errors import EngramError, InputError
from app.core.messages import AgentInfo
from app.core.protocols import ArchivalFilter
from app.runtime import Runtime
from app.ui.describe import ArchivalResults, RecallResults

PAGE_SIZE = 20


class LibraryWorker(QObject):
    recall_results = Signal(object)  # RecallResults
    archival_results = Signal(object)  # ArchivalResults
    passages_deleted = Signal(int)
    error = Signal(str)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime
        self._agent_id = ""
        self._archival_query: tuple[str, int, str] = ("", 1, "")

    @Slot(object)
    def follow(self, info: AgentInfo) -> None:
        """The agent whose memory is searched (connected to AgentWorker.agent_changed)."""
        self._agent_id = info.id
        self._archival_query = ("", 1, "")

    def _agent(self) -> str:
        if not self._agent_id:
            raise InputError("No agent is selected.")
        return self._agent_id

    @Slot(str, int)
    def search_recall(self, query: str, page: int) -> None:
        try:
            found = self._runtime.recall.search_text(self._agent(), query, page, PAGE_SIZE)
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.recall_results.emit(RecallResults(f"'{query}'", found))

    @Slot(object, object, int)
    def search_recall_dates(self, start: date, end: date, page: int) -> None:
        """Messages from the start of `start` to the end of `end`, in local time."""
        if end < start:
            start, end = end, start
        zone = datetime.now().astimezone().tzinfo
        first = datetime.combine(start, datetime.min.time(), tzinfo=zone)
        last = datetime.combine(end, datetime.min.time(), tzinfo=zone) + timedelta(days=1)
        try:
            found = self._runtime.recall.search_date(
                self._agent(), first, last - timedelta(microseconds=1), page, PAGE_SIZE
            )
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.recall_results.emit(RecallResults(f"{start} to {end}", found))

    @Slot(str, int, str)
    def search_archival(self, query: str, page: int, source: str = "") -> None:
        """An empty query lists the newest passages (where the store supports it); `source`
        keeps one kind (document, journal, agent, conversation)."""
        filters = ArchivalFilter(sources=(source,)) if source else None
        try:
            found = self._runtime.archival.search(
                self._agent(), query, page=page, page_size=PAGE_SIZE, filters=filters
            )
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self._archival_query = (query, page, source)
        self.archival_results.emit(ArchivalResults(query, found))

    @Slot(object)
    def delete_passages(self, passage_ids: list[str]) -> None:
        try:
            deleted = self._runtime.archival.delete(self._agent(), list(passage_ids))
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        self.passages_deleted.emit(deleted)
        self.search_archival(*self._archival_query)
