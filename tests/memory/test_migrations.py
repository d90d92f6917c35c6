"""Data dirs written by older Engram releases open without loss, after a backup.

The fixtures are SQL dumps of engram.db files that the v1 and v2 releases themselves wrote
(see tests/memory/fixtures/make_fixtures.py). Every row of every old table must survive the
upgrade unchanged, the old search indexes must still answer, and a copy of the database from
before the upgrade must sit next to it. The LanceDB half: a table written with the archival
schema as it has been since the first release reopens and answers, and a table built for other
vectors is refused with one clear sentence instead of being damaged.
"""

from __future__ import annotations

import sqlite3
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from app.core.errors import StoreError
from app.memory.journal_store import JournalStore
from app.memory.sqlite_schema import SCHEMA_VERSION
from app.memory.sqlite_store import SqliteStore
from tests.memory.fixtures import make_fixtures as fx

FIXTURES = Path(__file__).parent / "fixtures"


def _load(version: int, home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    db = home / "engram.db"
    conn = sqlite3.connect(db)
    conn.executescript((FIXTURES / f"engram_v{version}.sql").read_text(encoding="utf-8"))
    conn.close()
    return db


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every ordinary table (FTS shadow tables excluded)."""
    conn = sqlite3.connect(db)
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE '%_fts_%'"
        )
    ]
    rows = {n: conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall() for n in names}
    conn.close()
    return rows


def _version(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_database_upgrades_without_loss(tmp_path: Path, version: int) -> None:
    db = _load(version, tmp_path / "home")
    before = _rows(db)
    assert _version(db) == version and before["messages"]

    store = SqliteStore(db)
    try:
        agent = store.get_agent(fx.NAME)
        assert agent is not None
        found = store.search_text(agent.id, "Porto café", 1, 10)
        assert [m.text for m in found.items] == [fx.USER_LINES[0]]
        assert store.search_text(agent.id, "日本語", 1, 10).total == 1
        assert store.search_text(agent.id, "deleted", 1, 10).total == 0  # still soft-deleted
        assert store.get_blocks(agent.id)[1].value == fx.HUMAN_FACT
        history = store.block_history(agent.id, "human")
        assert [e.actor for e in history] == ["user", "undo", *["agent:core_memory_replace"] * 2]
        assert [e.undone for e in history] == [False, False, True, False]
        state = store.get_state(agent.id)
        assert state.summary == fx.SUMMARY and state.extra == {"warned": True}
        assert [m.text for m in store.context_messages(agent.id)] == [fx.USER_LINES[1]]
    finally:
        store.close()

    assert _version(db) == SCHEMA_VERSION
    after = _rows(db)
    for table, rows in before.items():
        assert after[table] == rows, table
    backup = db.with_name(f"engram.db.bak-v{version}")
    assert backup.exists() and _version(backup) == version
    assert _rows(backup) == before
    assert oct(backup.stat().st_mode & 0o777) == "0o600"
    with SqliteStore(db) as store:  # and the old edit history can still be undone
        agent = store.get_agent(fx.NAME)
        assert agent is not None
        store.undo_edit(agent.id, store.block_history(agent.id)[0].id, datetime.now(UTC))
        assert store.get_blocks(agent.id)[1].value == "Ada."


def test_the_journal_of_a_v2_database_survives(tmp_path: Path) -> None:
    db = _load(2, tmp_path / "home")
    SqliteStore(db).close()  # the app opens the recall store first, which migrates
    journal = JournalStore(db)
    try:
        (entry,) = journal.all_entries()
        assert entry.text == fx.JOURNAL_TEXT and entry.revision == 2
    finally:
        journal.close()


def test_reopening_an_upgraded_database_makes_no_new_backup(tmp_path: Path) -> None:
    db = _load(1, tmp_path / "home")
    SqliteStore(db).close()
    copies = sorted(p.name for p in db.parent.iterdir() if ".bak-" in p.name)
    SqliteStore(db).close()
    assert sorted(p.name for p in db.parent.iterdir() if ".bak-" in p.name) == copies
    assert copies == ["engram.db.bak-v1"]


def test_a_database_from_a_newer_release_is_refused_untouched(tmp_path: Path) -> None:
    db = _load(2, tmp_path / "home")
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = _rows(db)
    with pytest.raises(StoreError, match="newer Engram"):
        SqliteStore(db)
    assert _rows(db) == before and _version(db) == SCHEMA_VERSION + 1


# ---- LanceDB ---------------------------------------------------------------------------


# The archival table's schema as the first release wrote it (commit 24acbd8), frozen here.
def _first_release_schema(dim: int) -> pa.Schema:
    utc = pa.timestamp("us", tz="UTC")
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("agent_id", pa.string(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dim), nullable=False),
            pa.field("created_at", utc, nullable=False),
            pa.field("doc_date", utc, nullable=True),
            pa.field("source", pa.string(), nullable=False),
            pa.field("tags", pa.list_(pa.string()), nullable=False),
            pa.field("location", pa.string(), nullable=False),
            pa.field("metadata", pa.string(), nullable=False),
            pa.field("deleted", pa.bool_(), nullable=False),
        ]
    )


def _write_old_table(path: Path, dim: int, storage: str = "stable") -> None:
    import lancedb

    from app.memory.embedder import HashEmbedder

    texts = ["Ada's brother Tiago plays the cello.", "The observatory opens at nine."]
    vectors = HashEmbedder(dim).embed(texts)
    when = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = [
        {
            "id": f"p{i}",
            "agent_id": "a1",
            "text": t,
            "vector": list(map(float, v)),
            "created_at": when,
            "doc_date": None,
            "source": "agent",
            "tags": [],
            "location": "",
            "metadata": "{}",
            "deleted": i == 1,
        }
        for i, (t, v) in enumerate(zip(texts, vectors, strict=True))
    ]
    db = lancedb.connect(str(path))
    with warnings.catch_warnings():  # the storage-version argument is deprecated, still works
        warnings.simplefilter("ignore", DeprecationWarning)
        db.create_table(
            "archival", data=rows, schema=_first_release_schema(dim), data_storage_version=storage
        )


@pytest.mark.parametrize("storage", ["legacy", "stable"])  # Lance file format v0.1 and v2
def test_a_first_release_archival_table_reopens_and_answers(tmp_path: Path, storage: str) -> None:
    from app.memory.archival import LanceArchivalStore, archival_schema
    from app.memory.embedder import HashEmbedder

    assert archival_schema(384) == _first_release_schema(384), "schema changed: add a migration"
    _write_old_table(tmp_path / "archival", 384, storage)
    store = LanceArchivalStore(tmp_path / "archival", HashEmbedder(384))
    assert store.count("a1") == 1  # the soft-deleted passage stays out
    found = store.search("a1", "Tiago cello")
    assert [p.id for p in found.items] == ["p0"]
    store.insert("a1", ["A new passage about Porto."])
    assert store.count("a1") == 2


def test_an_archival_table_for_other_vectors_is_refused_not_damaged(tmp_path: Path) -> None:
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import HashEmbedder

    _write_old_table(tmp_path / "archival", 16)
    files = sorted(p.relative_to(tmp_path) for p in (tmp_path / "archival").rglob("*"))
    with pytest.raises(StoreError, match="16-d vectors"):
        LanceArchivalStore(tmp_path / "archival", HashEmbedder(384))
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "archival").rglob("*")) == files
