"""The document library in engram.db: one row per file ingested for an agent, with the
checkpoint that lets a killed ingest resume without duplicates or gaps.

A source's passages get ids made from its `generation` (a random prefix, new for every
(re)ingest) and the chunk index, so they can be found again without searching the archive.
Ingesting a batch is three steps: `reserve` records that chunks up to `chunks_written` may be
written, the archival write happens, `checkpoint` records them as done. After a kill, passages
between `chunks_done` and `chunks_written` may or may not exist: the resume deletes those ids
(harmless where they do not) and carries on from `chunks_done`.

Like the journal, this store has its own connection to engram.db (WAL lets it write beside the
recall store). SQLite errors leave as StoreError, unknown ids as InputError.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar, cast

from app.core.errors import InputError
from app.memory.sqlite_base import SqliteBase, locked
from app.memory.sqlite_store import from_db_time, to_db_time

P = ParamSpec("P")
R = TypeVar("R")
Status = Literal["pending", "ingesting", "done", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "ingesting", "done", "failed")


@dataclass(frozen=True)
class Source:
    """One file in an agent's library and how far its ingest has got."""

    id: int
    agent_id: str
    path: str
    content_hash: str
    size: int
    mtime: float
    status: Status
    generation: str
    chunks_done: int  # chunks 0 .. chunks_done - 1 are stored
    chunks_written: int  # chunks below this may be stored (a batch in flight at a kill)
    chunks_total: int | None  # known once the file has been read to the end
    error: str
    warnings: tuple[str, ...]
    doc_date: datetime | None
    added_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return Path(self.path).name

    def passage_id(self, index: int) -> str:
        """The archival id of chunk `index` of this generation (32 hex digits, like uuid4)."""
        return f"{self.generation}{index:08x}"

    def stored_ids(self) -> list[str]:
        """Every id this generation may have written (some may not exist)."""
        end = max(self.chunks_done, self.chunks_written, self.chunks_total or 0)
        return [self.passage_id(i) for i in range(end)] if self.generation else []


def new_generation() -> str:
    return uuid.uuid4().hex[:24]


def _source(row: sqlite3.Row) -> Source:
    doc_date = row["doc_date"]
    return Source(
        id=row["id"],
        agent_id=row["agent_id"],
        path=row["path"],
        content_hash=row["content_hash"],
        size=row["size"],
        mtime=row["mtime"],
        status=cast(Status, row["status"]),
        generation=row["generation"],
        chunks_done=row["chunks_done"],
        chunks_written=row["chunks_written"],
        chunks_total=row["chunks_total"],
        error=row["error"],
        warnings=tuple(json.loads(row["warnings"])),
        doc_date=from_db_time(doc_date) if doc_date else None,
        added_at=from_db_time(row["added_at"]),
        updated_at=from_db_time(row["updated_at"]),
    )


_locked = locked("The document library")


class SourcesStore(SqliteBase):
    """The `sources` table: list, look up, and move a source through its ingest."""

    def _set(self, source_id: int, now: datetime, **values: Any) -> Source:
        columns = ", ".join(f"{name} = ?" for name in values)
        with self._write() as db:
            changed = db.execute(
                f"UPDATE sources SET {columns}, updated_at = ? WHERE id = ?",
                (*values.values(), to_db_time(now), source_id),
            ).rowcount
        if not changed:
            raise InputError(f"There is no document source #{source_id}.")
        return self.require(source_id)

    # ---- reading ---------------------------------------------------------------------------
    @_locked
    def get(self, source_id: int) -> Source | None:
        row = self._conn.execute("SELECT * FROM sources WHERE id = ?", (source_id,)).fetchone()
        return _source(row) if row else None

    def require(self, source_id: int) -> Source:
        found = self.get(source_id)
        if found is None:
            raise InputError(f"There is no document source #{source_id}.")
        return found

    @_locked
    def find(self, agent_id: str, path: str) -> Source | None:
        row = self._conn.execute(
            "SELECT * FROM sources WHERE agent_id = ? AND path = ?", (agent_id, path)
        ).fetchone()
        return _source(row) if row else None

    @_locked
    def with_hash(self, agent_id: str, content_hash: str) -> list[Source]:
        """This agent's fully ingested sources with these bytes, oldest first."""
        rows = self._conn.execute(
            "SELECT * FROM sources WHERE agent_id = ? AND content_hash = ? AND status = 'done' "
            "ORDER BY id",
            (agent_id, content_hash),
        )
        return [_source(r) for r in rows]

    @_locked
    def attached(self, path: str, content_hash: str) -> list[Source]:
        """Every agent's fully ingested copy of this file with these bytes, oldest first: the
        agents a library document is attached to, and where a new attachment copies from."""
        rows = self._conn.execute(
            "SELECT * FROM sources WHERE path = ? AND content_hash = ? AND status = 'done' "
            "ORDER BY id",
            (path, content_hash),
        )
        return [_source(r) for r in rows]

    @_locked
    def list(self, agent_id: str | None = None) -> list[Source]:
        """One agent's sources (or everyone's), in the order they were added."""
        if agent_id is None:
            rows = self._conn.execute("SELECT * FROM sources ORDER BY id")
        else:
            rows = self._conn.execute(
                "SELECT * FROM sources WHERE agent_id = ? ORDER BY id", (agent_id,)
            )
        return [_source(r) for r in rows]

    @_locked
    def imported_keys(self, agent_id: str) -> set[str]:
        """The `import_key`s of messages already imported into this agent's recall storage
        (read from the recall store's table), so importing a transcript twice adds nothing."""
        rows = self._conn.execute(
            "SELECT json_extract(metadata, '$.import_key') FROM messages "
            "WHERE agent_id = ? AND json_extract(metadata, '$.import_key') IS NOT NULL",
            (agent_id,),
        )
        return {str(r[0]) for r in rows}

    # ---- an ingest, step by step -----------------------------------------------------------
    @_locked
    def register(self, agent_id: str, paths: Sequence[str], now: datetime) -> None:
        """Add the files of a job not yet in the library as pending (the queue a user sees)."""
        stamp = to_db_time(now)
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO sources(agent_id, path, added_at, updated_at) "
                "VALUES (?, ?, ?, ?)",
                [(agent_id, path, stamp, stamp) for path in paths],
            )

    @_locked
    def begin(
        self,
        agent_id: str,
        path: str,
        *,
        content_hash: str,
        size: int,
        mtime: float,
        doc_date: datetime | None,
        now: datetime,
    ) -> Source:
        """Start a fresh ingest of `path` (new generation, checkpoint 0), creating the row if
        needed. The caller has already deleted the passages of any earlier generation."""
        stamp = to_db_time(now)
        when = to_db_time(doc_date) if doc_date else None
        row = (agent_id, path, content_hash, size, mtime, new_generation(), when, stamp, stamp)
        with self._write() as db:
            db.execute(
                "INSERT INTO sources(agent_id, path, content_hash, size, mtime, status, "
                "generation, doc_date, added_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'ingesting', ?, ?, ?, ?) "
                "ON CONFLICT (agent_id, path) DO UPDATE SET content_hash = excluded.content_hash, "
                "size = excluded.size, mtime = excluded.mtime, status = 'ingesting', "
                "generation = excluded.generation, chunks_done = 0, chunks_written = 0, "
                "chunks_total = NULL, error = '', warnings = '[]', doc_date = excluded.doc_date, "
                "updated_at = excluded.updated_at",
                row,
            )
        found = self.find(agent_id, path)
        assert found is not None
        return found

    @_locked
    def resume(self, source_id: int, now: datetime) -> Source:
        """Carry on from the checkpoint; the caller has deleted the ids in flight at the kill."""
        return self._set(
            source_id, now, status="ingesting", error="", chunks_written=self._done(source_id)
        )

    def _done(self, source_id: int) -> int:
        return self.require(source_id).chunks_done

    @_locked
    def reserve(self, source_id: int, end: int, now: datetime) -> None:
        """Record that chunks below `end` are about to be written."""
        self._set(source_id, now, chunks_written=end)

    @_locked
    def checkpoint(self, source_id: int, done: int, now: datetime) -> None:
        """Record that chunks below `done` are stored."""
        self._set(source_id, now, chunks_done=done)

    @_locked
    def finish(self, source_id: int, total: int, warnings: Sequence[str], now: datetime) -> Source:
        return self._set(
            source_id,
            now,
            status="done",
            chunks_done=total,
            chunks_written=total,
            chunks_total=total,
            error="",
            warnings=json.dumps(list(warnings), ensure_ascii=False),
        )

    @_locked
    def fail(self, source_id: int, error: str, now: datetime, *, size: int = 0) -> Source:
        """A file that cannot be read: its passages are gone (the caller deleted them)."""
        return self._set(
            source_id,
            now,
            status="failed",
            error=error,
            size=size,
            content_hash="",
            generation="",
            chunks_done=0,
            chunks_written=0,
            chunks_total=None,
        )

    @_locked
    def fail_path(self, agent_id: str, path: str, error: str, now: datetime) -> Source:
        """Record a file that failed before its ingest could begin (unreadable, vanished)."""
        self.register(agent_id, [path], now)
        found = self.find(agent_id, path)
        assert found is not None
        return self.fail(found.id, error, now, size=found.size)

    @_locked
    def relink(self, source_id: int, path: str, mtime: float, now: datetime) -> Source:
        """The same bytes moved to another path: keep the passages, follow the file."""
        with self._write() as db:
            db.execute(
                "DELETE FROM sources WHERE id <> ? AND path = ? AND agent_id = "
                "(SELECT agent_id FROM sources WHERE id = ?) AND status <> 'done'",
                (source_id, path, source_id),
            )
        return self._set(source_id, now, path=path, mtime=mtime)

    @_locked
    def remove(self, source_id: int) -> None:
        """Forget the source (its passages must already be deleted)."""
        with self._write() as db:
            db.execute("DELETE FROM sources WHERE id = ?", (source_id,))


__all__ = ["STATUSES", "Source", "SourcesStore", "Status", "new_generation"]
