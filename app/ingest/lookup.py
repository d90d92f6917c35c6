"""Searching an agent's memory for people and scripts: archival passages, recall messages or
both, as plain JSON-ready records. A document-date range (`doc_start`/`doc_end`) searches
archival passages only: messages have no document date.

Archival scores are the store's fused RRF scores. Recall search ranks by BM25 without exposing
a score, so a recall hit scores 1 / (60 + rank), the same scale; `all` fuses the two ranked
lists with Reciprocal Rank Fusion and scores by that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Literal

from app.core.messages import Message, Passage
from app.core.protocols import ArchivalFilter, ArchivalStore, RecallStore

Where = Literal["archival", "recall", "all"]
WHERE: tuple[Where, ...] = ("archival", "recall", "all")
RRF_K = 60
MAX_K = 50


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 5
    where: Where = "all"
    doc_start: datetime | None = None
    doc_end: datetime | None = None

    @property
    def filters(self) -> ArchivalFilter | None:
        if self.doc_start is None and self.doc_end is None:
            return None
        return ArchivalFilter(doc_start=self.doc_start, doc_end=self.doc_end)


def _stamp(when: datetime) -> str:
    return when.isoformat()


def passage_record(passage: Passage, score: float | None = None) -> dict[str, Any]:
    return {
        "id": passage.id,
        "store": "archival",
        "text": passage.text,
        "source": passage.source,
        "location": passage.location,
        "score": passage.score if score is None else score,
        "created_at": _stamp(passage.created_at),
        "tags": list(passage.tags),
        "metadata": passage.metadata,
    }


def message_record(message: Message, score: float) -> dict[str, Any]:
    speaker = str(message.metadata.get("speaker") or message.role)
    return {
        "id": message.id,
        "store": "recall",
        "text": message.text,
        "source": "conversation",
        "location": f"{speaker}, {message.created_at:%Y-%m-%d %H:%M}",
        "score": score,
        "created_at": _stamp(message.created_at),
        "kind": str(message.kind),
        "metadata": message.metadata,
    }


def rank_score(rank: int) -> float:
    """The RRF contribution of a 1-based rank."""
    return 1.0 / (RRF_K + rank)


def search(
    query: Query, agent_id: str, archival: ArchivalStore, recall: RecallStore
) -> list[dict[str, Any]]:
    """The best `query.k` hits, best first, as records."""
    k = max(1, min(query.k, MAX_K))
    hits: list[dict[str, Any]] = []
    if query.where in ("archival", "all"):
        found = archival.search(agent_id, query.text, page_size=k, filters=query.filters)
        hits.extend(passage_record(p) for p in found.items)
    if query.where in ("recall", "all") and query.filters is None:
        messages = recall.search_text(agent_id, query.text, 1, k).items
        hits.extend(message_record(m, rank_score(i)) for i, m in enumerate(messages, start=1))
    if query.where == "all":
        hits = fuse(hits)
    return hits[:k]


def fuse(hits: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Archival and recall hits (each list in rank order) fused by RRF; ties keep the order
    they came in, so archival goes first."""
    ranks: dict[str, int] = {}
    scored: list[tuple[float, int, dict[str, Any]]] = []
    for position, hit in enumerate(hits):
        store = str(hit["store"])
        ranks[store] = ranks.get(store, 0) + 1
        scored.append((rank_score(ranks[store]), position, {**hit}))
    scored.sort(key=lambda item: (-item[0], item[1]))
    for score, _, hit in scored:
        hit["score"] = score
    return [hit for _, _, hit in scored]


def parse_query(item: Any, default: Query) -> Query:
    """A batch line's object ({"query": ..., "k": ..., "in": ...}) as a Query."""
    if not isinstance(item, dict) or not isinstance(item.get("query"), str):
        raise ValueError('each line must be a JSON object with a "query" string')
    k = item.get("k", default.k)
    where = item.get("in", default.where)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError('"k" must be a whole number of at least 1')
    if where not in WHERE:
        raise ValueError(f'"in" must be one of {", ".join(WHERE)}')
    start = _bound(item, "doc_from", default.doc_start, end=False)
    end = _bound(item, "doc_to", default.doc_end, end=True)
    return Query(item["query"], k, where, start, end)


def _bound(
    item: dict[str, Any], key: str, default: datetime | None, *, end: bool
) -> datetime | None:
    value = item.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValueError(f'"{key}" must be a date written YYYY-MM-DD')
    return parse_day(value, end=end)


def parse_day(text: str, *, end: bool = False) -> datetime:
    """A YYYY-MM-DD bound in UTC: the start of the day, or with `end` its last microsecond."""
    try:
        day = date.fromisoformat(text.strip())
    except ValueError as err:
        raise ValueError(f"'{text}' is not a date; write it as YYYY-MM-DD") from err
    return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
