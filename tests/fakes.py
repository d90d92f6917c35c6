"""Fakes that live behind the core's Protocols (fakes over mocks)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from app.core.messages import Page, Passage
from app.core.protocols import ArchivalFilter


class InMemoryArchival:
    """Word-overlap search over a list; enough to test what the agent does with results."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, Passage]] = []
        self.doc_dates: dict[str, datetime] = {}  # passage id -> its document's date

    def insert(
        self,
        agent_id: str,
        texts: Sequence[str],
        *,
        source: str = "agent",
        tags: Sequence[str] = (),
        location: str = "",
        metadata: Mapping[str, Any] | None = None,
        created_at: datetime | None = None,
        doc_date: datetime | None = None,
    ) -> list[str]:
        ids = []
        for text in texts:
            pid = uuid.uuid4().hex
            when = created_at or datetime.now().astimezone()
            self.rows.append((agent_id, Passage(pid, text, when, source, tuple(tags), location)))
            if doc_date is not None:
                self.doc_dates[pid] = doc_date
            ids.append(pid)
        return ids

    def _in_doc_range(self, passage: Passage, filters: ArchivalFilter) -> bool:
        """Like the LanceDB store: a passage without a document date is outside any range."""
        if filters.doc_start is None and filters.doc_end is None:
            return True
        when = self.doc_dates.get(passage.id)
        if when is None:
            return False
        return (filters.doc_start is None or when >= filters.doc_start) and (
            filters.doc_end is None or when <= filters.doc_end
        )

    def search(
        self,
        agent_id: str,
        query: str,
        *,
        page: int = 1,
        page_size: int = 5,
        filters: ArchivalFilter | None = None,
    ) -> Page[Passage]:
        words = set(query.lower().split())
        hits = [p for a, p in self.rows if a == agent_id and words & set(p.text.lower().split())]
        if filters is not None and filters.sources:
            hits = [p for p in hits if p.source in filters.sources]
        if filters is not None:
            hits = [p for p in hits if self._in_doc_range(p, filters)]
        start = (page - 1) * page_size
        return Page(tuple(hits[start : start + page_size]), page, page_size, len(hits))

    def count(self, agent_id: str) -> int:
        return sum(1 for a, _ in self.rows if a == agent_id)

    def delete(self, agent_id: str, passage_ids: Sequence[str]) -> int:
        before = len(self.rows)
        self.rows = [(a, p) for a, p in self.rows if not (a == agent_id and p.id in passage_ids)]
        return before - len(self.rows)
