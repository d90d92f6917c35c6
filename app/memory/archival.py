"""Archival memory in LanceDB: passages with embeddings, hybrid (vector + BM25) search, paging.

One LanceDB database directory holds one table, `archival`, shared by all agents; every query
is prefiltered by agent, `deleted = false` and the caller's ArchivalFilter. Deletes are soft
(`deleted = true`) until `purge_deleted`. A document attached to several agents is copied,
vectors included, into each agent's rows (`copy_passages`): one prefilter, no re-embedding.

Freshness and upkeep (measured with lancedb 0.40, 1,000 single-passage inserts): `add` does not
update the native FTS index, but an FTS query also scans the unindexed rows, so a passage is
searchable the moment `insert` returns. What decays is speed: each insert is a new fragment, and
with no upkeep a hybrid search took 290 ms after 1,000 inserts. `optimize()` (compaction + index
update) after every insert cost 222 s in all; every 32 writes it adds ~0.1 s to one insert in 32
(9 s for all 1,000 inserts, p50 5 ms) and hybrid search stays at ~25 ms. So: every 32 writes.

Lance and Arrow failures leave this module as StoreError; bad arguments as InputError.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import lancedb
import numpy as np
import pyarrow as pa
from lancedb.index import FTS, Bitmap, BTree, IvfPq
from lancedb.query import (
    ColumnOrdering,
    FullTextOperator,
    LanceVectorQueryBuilder,
)

from app.core.errors import InputError, StoreError
from app.core.messages import Page, Passage
from app.core.protocols import ArchivalFilter
from app.memory.archival_query import (
    RRF_K,
    archival_schema,
    bm25_match,
    fts_terms,
    rrf_fuse,
    sql_string,
    where_clause,
)
from app.memory.embedder import Embedder, Vectors

P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("engram.archival")

TABLE = "archival"
CANDIDATES = 50  # per ranked list, and the most a fused search reports
VECTOR_INDEX_MIN_ROWS = 50_000  # below this, brute force is fast and exact
# When an agent owns nearly every row, its vector list runs unfiltered and drops other rows
# afterwards (prefiltering 1M rows cost more than the ANN search itself); it falls back to the
# prefilter whenever fewer than `candidates` rows survive, so results stay right.
POSTFILTER_MIN_SHARE = 0.95
OPTIMIZE_EVERY = 32  # writes between compaction + FTS index updates
KEEP_OLD_VERSIONS = timedelta(hours=1)  # other readers may still hold a recent version
EMBED_CHUNK = 256
_PASSAGE_COLUMNS = ["id", "text", "created_at", "source", "tags", "location", "metadata"]
# Scalar indexes behind every prefilter (agent, not deleted) and the page fetch (id IN ...):
# without them each query scanned 1M agent_id/deleted values (~60 ms per vector list at 1M).
_SCALAR_INDEXES: tuple[tuple[str, BTree | Bitmap], ...] = (
    ("agent_id", Bitmap()),
    ("deleted", Bitmap()),
    ("id", BTree()),
)


def _guarded(
    method: Callable[Concatenate[LanceArchivalStore, P], R],
) -> Callable[Concatenate[LanceArchivalStore, P], R]:
    """Serialise a method on the store's lock and turn Lance/Arrow/OS failures into StoreError."""

    @functools.wraps(method)
    def wrapper(self: LanceArchivalStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except (OSError, RuntimeError, ValueError, KeyError, pa.ArrowException) as err:
                raise _store_error(err) from err

    return wrapper


def _store_error(err: BaseException) -> StoreError:
    lines = str(err).strip().splitlines() or [type(err).__name__]
    detail = lines[0][:300].rstrip(". ")
    return StoreError(
        f"The archival memory could not be read or written: {detail}.",
        hint="Check that the disk is not full and that Engram is not running twice.",
    )


def _page_offset(page: int, page_size: int) -> int:
    if page < 1 or page_size < 1:
        raise InputError(f"Pages start at 1 and hold at least 1 item (got {page}, {page_size}).")
    return (page - 1) * page_size


@dataclass(frozen=True)
class NewPassage:
    """A passage before it is embedded and stored; `id` None means a fresh random one."""

    text: str
    location: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    doc_date: datetime | None = None
    id: str | None = None


def _passage(row: Mapping[str, Any], score: float = 0.0) -> Passage:
    try:
        metadata = json.loads(row["metadata"] or "{}")
    except json.JSONDecodeError:
        metadata = {}
    return Passage(
        id=row["id"],
        text=row["text"],
        created_at=row["created_at"].astimezone(UTC),
        source=row["source"],
        tags=tuple(row["tags"] or ()),
        location=row["location"],
        score=score,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


class LanceArchivalStore:
    """The ArchivalStore over one LanceDB directory, with an injected Embedder.

    Search is hybrid. A vector search and two BM25 searches run separately, each asking for
    `candidates` rows (LanceDB's own hybrid query fetches only `limit` rows per side before
    fusing), and their rankings are fused in Python with Reciprocal Rank Fusion (k=10). The two
    BM25 lists are "any query word" and "every query word": the second is Lucene's old
    coordination factor expressed as a ranking, so a passage holding all of a query's terms (a
    UUID's five parts, a name and a place) beats one that is merely near in embedding space
    (for a one-word query both lists agree, which doubles the keyword vote: right for names
    and ids). FACTS.md measured BM25 ahead of MiniLM vectors on a conversation benchmark (recall@10
    0.60 vs 0.45), and plain 2-list RRF behind BM25 at top-5. RRF in Python rather than
    LanceDB's RRFReranker: we need three lists, the fused candidate count (the true total for
    paging) and per-side limits of our own.

    Speed at 1M rows (docs/retrieval.md): the three lists return ids only and the columns of
    just the page shown are read afterwards (`id IN (…)`, BTREE); BITMAP indexes on `agent_id`
    and `deleted` serve the prefilter every query carries. Both were the bulk of the time.
    """

    def __init__(
        self,
        path: Path,
        embedder: Embedder,
        *,
        candidates: int = CANDIDATES,
        vector_index_min_rows: int = VECTOR_INDEX_MIN_ROWS,
    ) -> None:
        self._path = Path(path)
        self._embedder = embedder
        self._candidates = candidates
        self._vector_index_min_rows = vector_index_min_rows
        self._lock = threading.RLock()
        self._schema = archival_schema(embedder.dim)
        self._writes = 0
        self._vector_index = False
        self._shares: dict[str, float] = {}  # agent -> share of the table's rows it can see
        self._open()

    @_guarded
    def _open(self) -> None:
        self._path.mkdir(parents=True, exist_ok=True)
        # Consistency interval 0: every read sees the latest version, also one written by
        # another store object or process (measured: no visible cost on a local disk).
        db = lancedb.connect(str(self._path), read_consistency_interval=timedelta(0))
        if TABLE in db.list_tables().tables:
            self._table = db.open_table(TABLE)
        else:
            self._table = db.create_table(TABLE, schema=self._schema)
        built = getattr(self._table.schema.field("vector").type, "list_size", None)
        if built != self._embedder.dim:
            raise StoreError(
                f"The archival memory in {self._path} was built with {built}-d vectors, "
                f"but the embedder makes {self._embedder.dim}-d ones.",
                hint="Use the embedding model it was built with, or re-import into a new store.",
            )
        indexed = {tuple(ix.columns): ix.index_type for ix in self._table.list_indices()}
        if ("text",) not in indexed:
            self._table.create_index("text", config=FTS())
        for column, config in _SCALAR_INDEXES:
            if (column,) not in indexed:  # < 1 s at 1M rows; optimize() keeps them current
                self._table.create_index(column, config=config)
        self._vector_index = ("vector",) in indexed
        # Many small fragments (e.g. after a crash before optimizing) -> optimize soon.
        self._writes = _small_fragments(self._table)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def has_vector_index(self) -> bool:
        return self._vector_index

    # -- writing -------------------------------------------------------------------------

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
        """Embed and store passages (all or none); returns their ids, in order. A passage is
        searchable as soon as this returns."""
        if isinstance(texts, str):
            raise InputError("Pass a list of passages, not a single string.")
        meta = dict(metadata or {})
        rows = [NewPassage(text, location, meta, created_at, doc_date) for text in texts]
        return self.insert_passages(agent_id, rows, source=source, tags=tags)

    def insert_passages(
        self,
        agent_id: str,
        passages: Sequence[NewPassage],
        *,
        source: str = "agent",
        tags: Sequence[str] = (),
    ) -> list[str]:
        """`insert` with a location, metadata, times and optionally an id per passage, so a
        batch of document chunks is one embedding call and one write. A caller that must
        find its passages again after a crash gives them ids it can compute."""
        if any(not p.text.strip() for p in passages):
            raise InputError("An archival passage cannot be empty.")
        if not passages:
            return []
        try:
            metas = [
                json.dumps(dict(p.metadata), ensure_ascii=False, sort_keys=True) for p in passages
            ]
        except (TypeError, ValueError) as err:
            raise InputError(f"The passage metadata cannot be stored as JSON: {err}.") from err
        texts = [p.text for p in passages]
        vectors = self._embed(texts)  # outside the lock: the model may take seconds to load
        n = len(texts)
        ids = [p.id or uuid.uuid4().hex for p in passages]
        now = datetime.now(UTC)
        columns: dict[str, Any] = {
            "id": ids,
            "agent_id": [agent_id] * n,
            "text": texts,
            "vector": pa.FixedSizeListArray.from_arrays(
                pa.array(vectors.ravel(), pa.float32()), self._embedder.dim
            ),
            "created_at": [_utc(p.created_at or now) for p in passages],
            "doc_date": [_utc(p.doc_date) if p.doc_date else None for p in passages],
            "source": [source] * n,
            "tags": [[str(tag) for tag in tags]] * n,
            "location": [p.location for p in passages],
            "metadata": metas,
            "deleted": [False] * n,
        }
        self._add(pa.table(columns, schema=self._schema))
        return ids

    def _embed(self, texts: Sequence[str]) -> Vectors:
        chunks = [
            self._embedder.embed(texts[i : i + EMBED_CHUNK])
            for i in range(0, len(texts), EMBED_CHUNK)
        ]
        vectors = np.concatenate(chunks).astype(np.float32, copy=False)
        if vectors.shape != (len(texts), self._embedder.dim) or not np.isfinite(vectors).all():
            raise StoreError(f"The embedder returned unusable vectors (shape {vectors.shape}).")
        return vectors

    @_guarded
    def _add(self, rows: pa.Table) -> None:
        self._table.add(rows)
        self._wrote()

    @_guarded
    def delete(self, agent_id: str, passage_ids: Sequence[str]) -> int:
        """Hide passages from search, count and listing (soft delete); returns how many of
        them were visible before. Ids of other agents' passages are ignored."""
        if not passage_ids:
            return 0
        ids = ", ".join(sql_string(str(pid)) for pid in dict.fromkeys(passage_ids))
        result = self._table.update(
            where=f"{where_clause(agent_id)} AND id IN ({ids})", values={"deleted": True}
        )
        if result.rows_updated:
            self._wrote()
        return int(result.rows_updated)

    @_guarded
    def restore(self, agent_id: str, passage_ids: Sequence[str]) -> int:
        """Take passages out of the trash (undo `delete`); returns how many came back."""
        if not passage_ids:
            return 0
        ids = ", ".join(sql_string(str(pid)) for pid in dict.fromkeys(passage_ids))
        result = self._table.update(
            where=f"{where_clause(agent_id, deleted=True)} AND id IN ({ids})",
            values={"deleted": False},
        )
        if result.rows_updated:
            self._wrote()
        return int(result.rows_updated)

    @_guarded
    def copy_passages(
        self,
        agent_id: str,
        id_map: Mapping[str, str],
        to_agent: str,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Copy this agent's visible passages `id_map` names to `to_agent` under the mapped
        ids, vectors included: attaching a document to another agent embeds nothing again.
        `metadata` keys overwrite the copies' metadata. Returns how many were copied (ids that
        are missing or deleted are skipped)."""
        if not id_map:
            return 0
        wanted = ", ".join(map(sql_string, id_map))
        rows = (
            self._table.search()
            .where(f"{where_clause(agent_id)} AND id IN ({wanted})")
            .select(self._schema.names)
            .limit(len(id_map))
            .to_arrow()
        )
        if not rows.num_rows:
            return 0
        extra = dict(metadata or {})
        metas = [
            json.dumps({**json.loads(m or "{}"), **extra}, ensure_ascii=False, sort_keys=True)
            for m in rows["metadata"].to_pylist()
        ]
        new_values = {
            "id": [id_map[i] for i in rows["id"].to_pylist()],
            "agent_id": [to_agent] * rows.num_rows,
            "metadata": metas,
        }
        for name, values in new_values.items():
            rows = rows.set_column(rows.schema.get_field_index(name), name, pa.array(values))
        self._add(rows.select(self._schema.names).cast(self._schema))
        return int(rows.num_rows)

    @_guarded
    def purge_deleted(self, agent_id: str) -> int:
        """Remove this agent's soft-deleted passages from the table for good; returns how many.
        (Old table versions keep the bytes until the next optimize prunes them.)"""
        where = f"agent_id = {sql_string(agent_id)} AND deleted = true"
        doomed = int(self._table.count_rows(where))
        if doomed:
            self._table.delete(where)
            self._wrote()
        return doomed

    def _wrote(self) -> None:
        """Count a write; every OPTIMIZE_EVERY writes compact the table and update indexes."""
        self._writes += 1
        self._shares.clear()
        if self._writes >= OPTIMIZE_EVERY:
            self.optimize()

    @_guarded
    def optimize(self) -> None:
        """Compact small fragments, fold new rows into the indexes, prune versions older than
        an hour, and build the vector index once the table is big enough. A failure here is
        logged, not raised: the write that triggered it has already succeeded."""
        self._writes = 0
        try:
            self._table.optimize(cleanup_older_than=KEEP_OLD_VERSIONS)
            self.maybe_build_vector_index()
        except (OSError, RuntimeError, ValueError, StoreError, pa.ArrowException) as err:
            log.warning("Optimizing the archival table failed: %s", err)

    @_guarded
    def maybe_build_vector_index(self) -> bool:
        """Build an IVF_PQ index on the vectors once the table holds more than
        `vector_index_min_rows` rows (brute force is exact and fast enough below that).
        Searches then use nprobes=20, refine_factor=10: the default probe count had recall@10
        of 0.22 here, with those settings 0.985. Returns whether the index exists now."""
        if self._vector_index or self._table.count_rows() <= self._vector_index_min_rows:
            return self._vector_index
        self._table.create_index("vector", config=IvfPq(distance_type="cosine"))
        self._vector_index = True
        return True

    # -- reading -------------------------------------------------------------------------

    @_guarded
    def count(self, agent_id: str) -> int:
        return int(self._table.count_rows(where_clause(agent_id)))

    @_guarded
    def list_passages(
        self,
        agent_id: str,
        *,
        page: int = 1,
        page_size: int = 20,
        filters: ArchivalFilter | None = None,
        trash: bool = False,
    ) -> Page[Passage]:
        """Browse an agent's passages (or, with `trash`, its deleted ones), newest first, with
        the true total."""
        offset = _page_offset(page, page_size)
        where = where_clause(agent_id, filters, deleted=trash)
        total = int(self._table.count_rows(where))
        if offset >= total:
            return Page((), page, page_size, total)
        newest_first = [
            ColumnOrdering(column_name="created_at", ascending=False),
            ColumnOrdering(column_name="id"),
        ]
        rows = (
            self._table.search()
            .where(where)
            .order_by(newest_first)
            .offset(offset)
            .limit(page_size)
            .select(_PASSAGE_COLUMNS)
            .to_arrow()
            .to_pylist()
        )
        return Page(tuple(_passage(r) for r in rows), page, page_size, total)

    def search(
        self,
        agent_id: str,
        query: str,
        *,
        page: int = 1,
        page_size: int = 5,
        filters: ArchivalFilter | None = None,
    ) -> Page[Passage]:
        """Hybrid search; `total` is the number of distinct fused candidates (at most
        `candidates`) and `score` the fused RRF score. An empty query lists the newest."""
        offset = _page_offset(page, page_size)
        if not query.strip():
            return self.list_passages(agent_id, page=page, page_size=page_size, filters=filters)
        vector = self._embedder.embed_query(query)  # outside the lock, like insert
        where = where_clause(agent_id, filters)
        # Only an unfiltered search may skip the vector prefilter (see POSTFILTER_MIN_SHARE).
        dense_agent = agent_id if filters in (None, ArchivalFilter()) else None
        items, total = self._search_page(
            where, fts_terms(query), vector, offset, page_size, dense_agent
        )
        return Page(items, page, page_size, total)

    @_guarded
    def _search_page(
        self,
        where: str,
        terms: str,
        vector: Vectors,
        offset: int,
        page_size: int,
        dense_agent: str | None,
    ) -> tuple[tuple[Passage, ...], int]:
        """Rank by id only, fuse, then read the columns of just the page shown: reading every
        column of all ~150 candidates cost ~50 ms at 1M rows when 5-10 are shown."""
        share = self._share(dense_agent) if dense_agent is not None else 0.0
        fused = self._fused_ids(where, terms, vector, share)
        shown = fused[offset : offset + page_size]
        rows = self._rows_by_id(where, [pid for pid, _ in shown])
        # A row deleted by another process between ranking and fetching is simply left out.
        items = tuple(_passage(rows[pid], score) for pid, score in shown if pid in rows)
        return items, len(fused)

    def _rows_by_id(self, where: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not ids:
            return {}
        wanted = ", ".join(map(sql_string, ids))
        hits = (
            self._table.search()
            .where(f"id IN ({wanted}) AND {where}")
            .select(_PASSAGE_COLUMNS)
            .limit(len(ids))
            .to_arrow()
            .to_pylist()
        )
        return {hit["id"]: hit for hit in hits}

    def _share(self, agent_id: str) -> float:
        """The share of the table's rows this agent can see (cached until the next write)."""
        if agent_id not in self._shares:
            rows = self._table.count_rows()
            mine = self._table.count_rows(where_clause(agent_id)) if rows else 0
            self._shares[agent_id] = mine / rows if rows else 0.0
        return self._shares[agent_id]

    def _vector_ids(self, where: str, vector: Vectors, share: float) -> list[str]:
        """The vector list; `share` is how much of the table the filter keeps (0: unknown)."""
        limit = self._candidates
        query = cast(
            LanceVectorQueryBuilder,
            self._table.search(vector, query_type="vector", vector_column_name="vector"),
        ).distance_type("cosine")
        if self._vector_index:
            query = query.nprobes(20).refine_factor(10)
        query = query.select(["id", "_distance"])
        if share >= POSTFILTER_MIN_SHARE and self._vector_index:
            wider = limit if share == 1.0 else math.ceil(limit / share) + limit // 10
            ids: list[str] = (
                query.where(where, prefilter=False).limit(wider).to_arrow()["id"].to_pylist()
            )
            if len(ids) >= limit:
                return ids[:limit]
        ranked: list[str] = (
            query.where(where, prefilter=True).limit(limit).to_arrow()["id"].to_pylist()
        )
        return ranked

    def _fused_ids(
        self, where: str, terms: str, vector: Vectors, share: float
    ) -> list[tuple[str, float]]:
        limit = self._candidates
        ranked = [self._vector_ids(where, vector, share)]
        if terms:
            for operator in (FullTextOperator.OR, FullTextOperator.AND):
                match = bm25_match(terms, operator)
                fts = self._table.search(match, query_type="fts").where(where, prefilter=True)
                fts = fts.select(["id", "_score"]).limit(limit)
                ranked.append(fts.to_arrow()["id"].to_pylist())
        return rrf_fuse(ranked)[:limit]


def _small_fragments(table: Any) -> int:
    """How many small (uncompacted) fragments the table has. lancedb 0.40 returns its stats
    as a dict although its type hints say an object; accept both."""
    stats = table.stats()
    fragments = stats["fragment_stats"] if isinstance(stats, dict) else stats.fragment_stats
    if isinstance(fragments, dict):
        return int(fragments["num_small_fragments"])
    return int(fragments.num_small_fragments)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


_match = bm25_match  # the name the benchmark scripts use

__all__ = [
    "CANDIDATES",
    "RRF_K",
    "LanceArchivalStore",
    "NewPassage",
    "archival_schema",
    "fts_terms",
    "rrf_fuse",
    "sql_string",
    "where_clause",
]
