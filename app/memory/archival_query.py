"""The query language of the archival table: its schema, SQL literals and prefilters, BM25 match
queries and Reciprocal Rank Fusion. Pure functions over strings, kept apart from the store so
the scripts that measure retrieval (scripts/eval_retrieval.py, bench_archival.py) build their
queries exactly as the store does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa
from lancedb.query import FullTextOperator, MatchQuery

from app.core.protocols import ArchivalFilter

RRF_K = 10  # k = 60 was flatter and worse on every passage shape (docs/retrieval.md)
MAX_QUERY_TERMS = 64
_TERM = re.compile(r"\w+")


def archival_schema(dim: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("agent_id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("created_at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("doc_date", pa.timestamp("us", tz="UTC"), nullable=True),
            pa.field("source", pa.string(), nullable=False),
            pa.field("tags", pa.list_(pa.string()), nullable=False),
            pa.field("location", pa.string(), nullable=False),
            pa.field("metadata", pa.string(), nullable=False),  # JSON object
            pa.field("deleted", pa.bool_(), nullable=False),
        ]
    )


def sql_string(value: str) -> str:
    """A SQL string literal (quotes doubled; backslashes are not escapes in Lance SQL)."""
    return "'" + value.replace("'", "''") + "'"


def sql_time(when: datetime) -> str:
    """A UTC timestamp literal; naive datetimes are taken to be UTC already."""
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"arrow_cast('{text}', 'Timestamp(Microsecond, Some(\"UTC\"))')"


def where_clause(
    agent_id: str, filters: ArchivalFilter | None = None, *, deleted: bool = False
) -> str:
    """The prefilter every query runs with: this agent, not deleted (or, for the trash, only
    deleted), and the filter's terms."""
    parts = [f"agent_id = {sql_string(agent_id)}", f"deleted = {str(deleted).lower()}"]
    if filters is not None:
        if filters.sources:
            parts.append(f"source IN ({', '.join(map(sql_string, filters.sources))})")
        if filters.tags:
            parts.append(f"array_has_any(tags, [{', '.join(map(sql_string, filters.tags))}])")
        if filters.start is not None:
            parts.append(f"created_at >= {sql_time(filters.start)}")
        if filters.end is not None:
            parts.append(f"created_at <= {sql_time(filters.end)}")
        if filters.doc_start is not None:
            parts.append(f"doc_date >= {sql_time(filters.doc_start)}")
        if filters.doc_end is not None:
            parts.append(f"doc_date <= {sql_time(filters.doc_end)}")
    return " AND ".join(parts)


def fts_terms(query: str) -> str:
    """The query as plain words for a BM25 match: punctuation (quotes, colons, parentheses,
    the dashes of a UUID) becomes a word break, so no query can be a syntax error."""
    return " ".join(_TERM.findall(query)[:MAX_QUERY_TERMS])


def rrf_fuse(ranked: Sequence[Sequence[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Reciprocal Rank Fusion: score(d) = sum over lists of 1 / (k + rank of d), ranks from 1.
    Ties go to the better best rank, then the earlier list, then the id (deterministic)."""
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for list_no, ids in enumerate(ranked):
        for rank, pid in enumerate(ids, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
            best[pid] = min(best.get(pid, (rank, list_no)), (rank, list_no))
    return sorted(scores.items(), key=lambda item: (-item[1], best[item[0]], item[0]))


def bm25_match(terms: str, operator: FullTextOperator) -> MatchQuery:
    """A BM25 match on `text`: exact (stemmed) terms, no fuzziness, no boost."""
    return MatchQuery(
        terms,
        "text",
        operator=operator,
        boost=1.0,
        fuzziness=0,
        max_expansions=50,
        prefix_length=0,
        document_granularity=None,
    )
