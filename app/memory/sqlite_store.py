"""Recall storage in SQLite: agents, every message, core blocks with history, context state.

The agent worker and the UI share one connection, serialised by a re-entrant lock, and every
write is one IMMEDIATE transaction, so a crash leaves all of a write or none of it. Times are
stored as fixed-width UTC ISO-8601 strings, which sort and compare correctly as text. SQLite's
own errors leave this module as StoreError; bad arguments (an unknown agent or label, a taken
name) as InputError.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from app.core.errors import InputError
from app.core.messages import AgentInfo, Block, BlockEdit, Kind, Message, NewMessage, Page
from app.core.protocols import ContextState
from app.memory.agent_file import dump_rows, load_rows
from app.memory.sqlite_base import SqliteBase, locked

P = ParamSpec("P")
R = TypeVar("R")

_MESSAGE_COLUMNS = "m.id, m.agent_id, m.kind, m.content, m.text, m.created_at, m.metadata"


_locked = locked("The conversation database")


def to_db_time(when: datetime) -> str:
    """The stored form of a time: UTC, microseconds always present, so text order is time
    order. Naive datetimes are taken to be UTC already."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def fts_query(query: str, *, any_term: bool = False) -> str:
    """The user's words as an FTS5 query that cannot be a syntax error: every term is quoted
    (a phrase, so AND/OR/NEAR/*/: lose their meaning) and punctuation-only terms are dropped.
    All terms must match unless `any_term`. Returns "" when nothing searchable is left."""
    terms = [t for t in query.split() if any(ch.isalnum() for ch in t)]
    joiner = " OR " if any_term else " "
    return joiner.join('"' + t.replace('"', '""') + '"' for t in terms)


def _dump_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise InputError(f"The {what} cannot be stored as JSON: {err}.") from err


def _offset(page: int, page_size: int) -> int:
    if page < 1 or page_size < 1:
        raise InputError(f"Pages start at 1 and hold at least 1 item (got {page}, {page_size}).")
    return (page - 1) * page_size


def _message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        agent_id=row["agent_id"],
        kind=Kind(row["kind"]),
        content=row["content"],
        text=row["text"],
        created_at=from_db_time(row["created_at"]),
        metadata=json.loads(row["metadata"]),
    )


def _edit(row: sqlite3.Row) -> BlockEdit:
    return BlockEdit(
        id=row["id"],
        agent_id=row["agent_id"],
        label=row["label"],
        old_value=row["old_value"],
        new_value=row["new_value"],
        actor=row["actor"],
        created_at=from_db_time(row["created_at"]),
        undone=bool(row["undone"]),
    )


def _agent(row: sqlite3.Row) -> AgentInfo:
    return AgentInfo(row["id"], row["name"], from_db_time(row["created_at"]))


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InputError("An agent needs a name that is not empty.")
    return name


class SqliteStore(SqliteBase):
    """The RecallStore on one SQLite file (WAL, synchronous=FULL, foreign keys on)."""

    def _require_agent(self, agent_id: str) -> None:
        if self._conn.execute("SELECT 1 FROM agents WHERE id = ?", (agent_id,)).fetchone():
            return
        raise InputError(f"There is no agent with id '{agent_id}'.")

    # ---- agents -------------------------------------------------------------------------
    @_locked
    def create_agent(self, name: str, blocks: Sequence[Block], now: datetime) -> AgentInfo:
        """Store the agent, its starting blocks and an empty context state in one transaction."""
        name = _clean_name(name)
        labels = [b.label for b in blocks]
        if len(set(labels)) != len(labels):
            raise InputError(f"Block labels must be unique, got {', '.join(labels)}.")
        agent_id, stamp = uuid.uuid4().hex, to_db_time(now)
        with self._write() as db:
            if db.execute("SELECT 1 FROM agents WHERE name = ?", (name,)).fetchone():
                raise InputError(f"An agent called '{name}' already exists; pick another name.")
            db.execute("INSERT INTO agents VALUES (?, ?, ?)", (agent_id, name, stamp))
            db.executemany(
                'INSERT INTO blocks(agent_id, label, value, "limit", ordinal) VALUES (?,?,?,?,?)',
                [(agent_id, b.label, b.value, b.limit, i) for i, b in enumerate(blocks)],
            )
            db.execute("INSERT INTO agent_state(agent_id) VALUES (?)", (agent_id,))
        return AgentInfo(agent_id, name, from_db_time(stamp))

    @_locked
    def get_agent(self, name_or_id: str) -> AgentInfo | None:
        """The agent with this id, else the one with this name (an id wins a clash)."""
        key = name_or_id.strip()
        row = self._conn.execute(
            "SELECT * FROM agents WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
            (key, key, key),
        ).fetchone()
        return _agent(row) if row else None

    @_locked
    def list_agents(self) -> list[AgentInfo]:
        rows = self._conn.execute("SELECT * FROM agents ORDER BY created_at, name")
        return [_agent(r) for r in rows]

    @_locked
    def rename_agent(self, agent_id: str, new_name: str) -> None:
        new_name = _clean_name(new_name)
        with self._write() as db:
            self._require_agent(agent_id)
            taken = db.execute(
                "SELECT 1 FROM agents WHERE name = ? AND id <> ?", (new_name, agent_id)
            ).fetchone()
            if taken:
                raise InputError(f"An agent called '{new_name}' already exists.")
            db.execute("UPDATE agents SET name = ? WHERE id = ?", (new_name, agent_id))

    @_locked
    def delete_agent(self, agent_id: str) -> None:
        """Delete the agent with all its messages, blocks, history and state."""
        with self._write() as db:
            if db.execute("DELETE FROM agents WHERE id = ?", (agent_id,)).rowcount == 0:
                raise InputError(f"There is no agent with id '{agent_id}'.")

    # ---- backup -------------------------------------------------------------------------
    @_locked
    def export_rows(self, agent_id: str) -> dict[str, Any]:
        """Everything stored about one agent, for `engram export` (see agent_file.py)."""
        return dump_rows(self._conn, agent_id)

    @_locked
    def import_rows(self, data: dict[str, Any], name: str) -> str:
        """Recreate an exported agent under a new id, atomically; returns the id."""
        agent_id = uuid.uuid4().hex
        with self._write() as db:
            load_rows(db, data, agent_id, _clean_name(name))
        return agent_id

    # ---- messages -----------------------------------------------------------------------
    @_locked
    def append(self, agent_id: str, messages: Sequence[NewMessage]) -> list[Message]:
        """Durably store messages (one transaction, synced before returning) with their ids."""
        rows = [
            (
                Kind(m.kind),
                m.content,
                m.text,
                to_db_time(m.created_at),
                _dump_json(m.metadata, "metadata"),
            )
            for m in messages
        ]
        stored: list[Message] = []
        with self._write() as db:
            self._require_agent(agent_id)
            for kind, content, text, stamp, meta in rows:
                cur = db.execute(
                    "INSERT INTO messages(agent_id, kind, content, text, created_at, metadata) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (agent_id, kind.value, content, text, stamp, meta),
                )
                assert cur.lastrowid is not None
                stored.append(
                    Message(
                        cur.lastrowid,
                        agent_id,
                        kind,
                        content,
                        text,
                        from_db_time(stamp),
                        json.loads(meta),
                    )
                )
        return stored

    @_locked
    def context_messages(self, agent_id: str) -> list[Message]:
        """The FIFO queue: messages not evicted and not deleted, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m JOIN agent_state s USING (agent_id) "
            "WHERE m.agent_id = ? AND m.deleted = 0 AND m.id >= s.context_start_id ORDER BY m.id",
            (agent_id,),
        )
        return [_message(r) for r in rows]

    @_locked
    def count_messages(self, agent_id: str) -> int:
        """Every message not deleted, in context or evicted."""
        row = self._conn.execute(
            "SELECT count(*) FROM messages WHERE agent_id = ? AND deleted = 0", (agent_id,)
        ).fetchone()
        return int(row[0])

    @_locked
    def search_text(self, agent_id: str, query: str, page: int, page_size: int) -> Page[Message]:
        """Full-text search over message text, best match (bm25) first, then newest first.

        All words must match; when that finds nothing, any word may (a model's query such as
        "sister Maya pottery class" should still find "Maya started pottery")."""
        offset = _offset(page, page_size)
        match = fts_query(query)
        if not match:
            return Page((), page, page_size, 0)
        where = (
            "FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid "
            "WHERE messages_fts MATCH ? AND m.agent_id = ? AND m.deleted = 0 AND m.text <> ''"
        )
        total = self._conn.execute(f"SELECT count(*) {where}", (match, agent_id)).fetchone()[0]
        if total == 0 and len(query.split()) > 1:
            match = fts_query(query, any_term=True)
            total = self._conn.execute(f"SELECT count(*) {where}", (match, agent_id)).fetchone()[0]
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} {where} "
            "ORDER BY bm25(messages_fts), m.created_at DESC, m.id DESC LIMIT ? OFFSET ?",
            (match, agent_id, page_size, offset),
        )
        return Page(tuple(_message(r) for r in rows), page, page_size, int(total))

    @_locked
    def search_date(
        self, agent_id: str, start: datetime, end: datetime, page: int, page_size: int
    ) -> Page[Message]:
        """Messages with readable text (as in `search_text`) and start <= created_at <= end,
        oldest first: heartbeats and raw function results would only crowd the page."""
        offset = _offset(page, page_size)
        where = (
            "FROM messages m WHERE m.agent_id = ? AND m.deleted = 0 AND m.text <> '' "
            "AND m.created_at BETWEEN ? AND ?"
        )
        args = (agent_id, to_db_time(start), to_db_time(end))
        total = self._conn.execute(f"SELECT count(*) {where}", args).fetchone()[0]
        rows = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} {where} ORDER BY m.created_at, m.id LIMIT ? OFFSET ?",
            (*args, page_size, offset),
        )
        return Page(tuple(_message(r) for r in rows), page, page_size, int(total))

    @_locked
    def delete_messages(self, agent_id: str, message_ids: Sequence[int]) -> None:
        """Hide messages from context and search (the rows stay on disk)."""
        with self._write() as db:
            db.executemany(
                "UPDATE messages SET deleted = 1 WHERE agent_id = ? AND id = ? AND deleted = 0",
                [(agent_id, int(i)) for i in message_ids],
            )

    # ---- context state ------------------------------------------------------------------
    @_locked
    def get_state(self, agent_id: str) -> ContextState:
        row = self._conn.execute(
            "SELECT summary, context_start_id, extra FROM agent_state WHERE agent_id = ?",
            (agent_id,),
        ).fetchone()
        if row is None:
            raise InputError(f"There is no agent with id '{agent_id}'.")
        return ContextState(row["summary"], row["context_start_id"], json.loads(row["extra"]))

    @_locked
    def update_state_extra(self, /, agent_id: str, **values: Any) -> None:
        """Merge small flags (warned, paused-until) into the persisted context state."""
        with self._write() as db:
            row = db.execute(
                "SELECT extra FROM agent_state WHERE agent_id = ?", (agent_id,)
            ).fetchone()
            if row is None:
                raise InputError(f"There is no agent with id '{agent_id}'.")
            merged = {**json.loads(row["extra"]), **values}
            db.execute(
                "UPDATE agent_state SET extra = ? WHERE agent_id = ?",
                (_dump_json(merged, "context state"), agent_id),
            )

    @_locked
    def evict(self, agent_id: str, up_to_id: int, summary: str) -> None:
        """Move the FIFO start past `up_to_id` and install the new summary, in one statement."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE agent_state SET context_start_id = ?, summary = ? WHERE agent_id = ?",
                (up_to_id + 1, summary, agent_id),
            ).rowcount
            if changed == 0:
                raise InputError(f"There is no agent with id '{agent_id}'.")

    # ---- core memory --------------------------------------------------------------------
    @_locked
    def get_blocks(self, agent_id: str) -> list[Block]:
        rows = self._conn.execute(
            'SELECT label, value, "limit" FROM blocks WHERE agent_id = ? ORDER BY ordinal',
            (agent_id,),
        )
        return [Block(r["label"], r["value"], r["limit"]) for r in rows]

    @_locked
    def add_block(self, agent_id: str, label: str, value: str, limit: int) -> Block:
        """Add a block after the existing ones (no history entry: nothing to undo to)."""
        with self._write() as db:
            self._require_agent(agent_id)
            if self._block_value(agent_id, label) is not None:
                raise InputError(f"The memory block '{label}' already exists.")
            db.execute(
                'INSERT INTO blocks(agent_id, label, value, "limit", ordinal) '
                "SELECT ?, ?, ?, ?, coalesce(max(ordinal) + 1, 0) FROM blocks WHERE agent_id = ?",
                (agent_id, label, value, limit, agent_id),
            )
        return Block(label, value, limit)

    @_locked
    def set_block(
        self, agent_id: str, label: str, value: str, actor: str, now: datetime
    ) -> BlockEdit:
        """Replace a block's value and record the edit; the limit is the core's to enforce."""
        with self._write():
            old = self._block_value(agent_id, label)
            if old is None:
                raise InputError(f"There is no memory block '{label}' for this agent.")
            return self._write_block(agent_id, label, old, value, actor, now)

    @_locked
    def block_history(self, agent_id: str, label: str | None = None) -> list[BlockEdit]:
        """Edits newest first, of one block or of all of them."""
        sql = "SELECT * FROM block_edits WHERE agent_id = ?"
        args: tuple[str, ...] = (agent_id,)
        if label is not None:
            sql, args = sql + " AND label = ?", (agent_id, label)
        return [_edit(r) for r in self._conn.execute(sql + " ORDER BY id DESC", args)]

    @_locked
    def undo_edit(self, agent_id: str, edit_id: int, now: datetime) -> BlockEdit:
        """Put back the value the block had before `edit_id`, recorded as a new "undo" edit.
        An edit is undone at most once, and an undo is not itself undone (edit the block)."""
        with self._write() as db:
            row = db.execute(
                "SELECT * FROM block_edits WHERE id = ? AND agent_id = ?", (edit_id, agent_id)
            ).fetchone()
            if row is None:
                raise InputError(f"There is no memory edit #{edit_id} for this agent.")
            target = _edit(row)
            if target.undone:
                raise InputError(f"Memory edit #{edit_id} has already been undone.")
            if target.actor == "undo":
                raise InputError(f"Memory edit #{edit_id} is an undo and cannot be undone.")
            db.execute("UPDATE block_edits SET undone = 1 WHERE id = ?", (edit_id,))
            current = self._block_value(agent_id, target.label)
            assert current is not None  # the foreign key keeps edits only of existing blocks
            return self._write_block(agent_id, target.label, current, target.old_value, "undo", now)

    def _block_value(self, agent_id: str, label: str) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM blocks WHERE agent_id = ? AND label = ?", (agent_id, label)
        ).fetchone()
        return None if row is None else str(row["value"])

    def _write_block(
        self, agent_id: str, label: str, old: str, new: str, actor: str, now: datetime
    ) -> BlockEdit:
        """Inside a write transaction: set the value and append its history row."""
        stamp = to_db_time(now)
        self._conn.execute(
            "UPDATE blocks SET value = ? WHERE agent_id = ? AND label = ?", (new, agent_id, label)
        )
        cur = self._conn.execute(
            "INSERT INTO block_edits(agent_id, label, old_value, new_value, actor, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (agent_id, label, old, new, actor, stamp),
        )
        assert cur.lastrowid is not None
        return BlockEdit(cur.lastrowid, agent_id, label, old, new, actor, from_db_time(stamp))
