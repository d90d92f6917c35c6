"""SqliteStore on a real SQLite file: round trips, search, context state, blocks, files, threads."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.core.errors import InputError, StoreError
from app.core.messages import AgentInfo, Block, Kind, NewMessage
from app.memory.sqlite_schema import SCHEMA_VERSION
from app.memory.sqlite_store import SqliteStore, fts_query

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
BLOCKS = [Block("persona", "I am Engram.", 100), Block("human", "Unknown.", 50)]


def msg(text: str, when: datetime = T0, kind: Kind = Kind.USER, **meta: object) -> NewMessage:
    return NewMessage(kind, json.dumps({"message": text}), text, when, dict(meta))


def raw(path: Path) -> sqlite3.Connection:
    """A second, plain connection: what is really on disk."""
    return sqlite3.connect(path, isolation_level=None)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "engram.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(db_path) as s:
        yield s


@pytest.fixture
def agent(store: SqliteStore) -> AgentInfo:
    return store.create_agent("sam", BLOCKS, T0)


def test_agents_round_trip(store: SqliteStore, agent: AgentInfo) -> None:
    assert store.get_agent("sam") == agent
    assert store.get_agent(agent.id) == agent
    assert store.get_agent("nobody") is None
    assert agent.created_at == T0 and agent.created_at.tzinfo is not None
    assert store.get_blocks(agent.id) == BLOCKS
    assert store.get_state(agent.id).context_start_id == 0
    with pytest.raises(InputError, match="already exists"):
        store.create_agent("sam", [], T0)
    other = store.create_agent("max", [], T0 + timedelta(seconds=1))
    assert store.list_agents() == [agent, other]
    with pytest.raises(InputError):
        store.rename_agent(other.id, "sam")
    store.rename_agent(other.id, "maxine")
    assert store.get_agent("maxine") == AgentInfo(other.id, "maxine", other.created_at)
    with pytest.raises(InputError):
        store.create_agent("  ", [], T0)


def test_messages_round_trip_and_times(store: SqliteStore, agent: AgentInfo) -> None:
    plus5 = timezone(timedelta(hours=5))
    stored = store.append(
        agent.id,
        [
            msg("hello", T0, note="x", n=[1, 2]),
            msg("naive", datetime(2026, 3, 1, 10, 0)),  # naive: taken as UTC
            msg("eastern", datetime(2026, 3, 1, 16, 0, tzinfo=plus5)),  # 11:00 UTC
            NewMessage(Kind.FUNCTION_CALL, '{"function": "send_message"}', "hi!", T0),
        ],
    )
    assert [m.id for m in stored] == sorted({m.id for m in stored})
    assert store.context_messages(agent.id) == stored
    assert stored[0].metadata == {"note": "x", "n": [1, 2]}
    assert stored[1].created_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert stored[2].created_at == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)
    assert stored[3].kind is Kind.FUNCTION_CALL and stored[3].role == "assistant"
    assert store.count_messages(agent.id) == 4
    assert store.append(agent.id, []) == []
    with pytest.raises(InputError):
        store.append("no-such-agent", [msg("lost")])


def test_append_is_one_transaction(store: SqliteStore, agent: AgentInfo, db_path: Path) -> None:
    with raw(db_path) as db:
        db.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON messages WHEN new.text = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(StoreError):
        store.append(agent.id, [msg("fine"), msg("boom")])
    assert store.count_messages(agent.id) == 0


def test_search_totals_and_paging(store: SqliteStore, agent: AgentInfo) -> None:
    other = store.create_agent("other", [], T0)
    store.append(other.id, [msg("my dog Rex")])
    news = [msg(f"walked the dog number {i}", T0 + timedelta(minutes=i)) for i in range(23)]
    news += [msg("the cat slept"), msg("", kind=Kind.HEARTBEAT), msg("dogs bark", T0)]
    stored = store.append(agent.id, news)
    dog_ids = {m.id for m in stored[:23]} | {stored[-1].id}  # porter stemming: dogs ~ dog

    pages = [store.search_text(agent.id, "walked dog", p, 5) for p in range(1, 7)]
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3, 0]
    assert {p.total for p in pages} == {23} and pages[0].pages == 5
    found = [m.id for p in pages for m in p.items]
    assert len(set(found)) == 23 and set(found) <= dog_ids
    assert found[0] == stored[22].id  # equal scores: newest first

    assert store.search_text(agent.id, "DOG", 1, 50).total == 24
    # no message has both words: any word may match then (dogs and cats: 25 messages)
    assert store.search_text(agent.id, "dog cat", 1, 5).total == 25
    assert store.search_text(agent.id, "giraffe", 1, 5).total == 0


def test_punctuation_and_operator_queries_are_safe(store: SqliteStore, agent: AgentInfo) -> None:
    store.append(agent.id, [msg('say "hi" OR NEAR(x) now*')])
    for query in ["?!...", "  ", '"', "- * ( ) :", "^"]:
        assert fts_query(query) == ""
        page = store.search_text(agent.id, query, 1, 5)
        assert page.items == () and page.total == 0
    for query in ['"hi', "OR", "NEAR(x)", "now*", "hi AND", "col:hi"]:
        store.search_text(agent.id, query, 1, 5)  # never an FTS syntax error
    assert store.search_text(agent.id, 'say "hi', 1, 5).total == 1
    with pytest.raises(InputError):
        store.search_text(agent.id, "hi", 0, 5)


def test_date_range_is_inclusive(store: SqliteStore, agent: AgentInfo) -> None:
    hours = [T0 + timedelta(hours=i) for i in range(10)]
    stored = store.append(agent.id, [msg(f"m{i}", when) for i, when in enumerate(hours)])
    page = store.search_date(agent.id, hours[2], hours[5], 1, 10)
    assert [m.id for m in page.items] == [m.id for m in stored[2:6]] and page.total == 4
    # the same instants written in another zone, and naive (= UTC), select the same rows
    plus2 = timezone(timedelta(hours=2))
    again = store.search_date(
        agent.id, hours[2].astimezone(plus2), hours[5].replace(tzinfo=None), 1, 10
    )
    assert again.items == page.items
    paged = store.search_date(agent.id, hours[0], hours[9], 3, 4)
    assert [m.text for m in paged.items] == ["m8", "m9"] and paged.total == 10
    assert store.search_date(agent.id, hours[0], hours[9], 4, 4).items == ()
    just_before = hours[2] - timedelta(microseconds=1)
    assert store.search_date(agent.id, just_before, just_before, 1, 5).total == 0


def test_date_range_lists_only_readable_messages(store: SqliteStore, agent: AgentInfo) -> None:
    heartbeat = NewMessage(Kind.HEARTBEAT, '{"type": "heartbeat"}', "", T0)
    stored = store.append(agent.id, [msg("hello", T0), heartbeat, msg("again", T0)])
    page = store.search_date(agent.id, T0, T0, 1, 10)
    assert [m.id for m in page.items] == [stored[0].id, stored[2].id] and page.total == 2


def test_soft_delete_hides_from_context_and_search(
    store: SqliteStore, agent: AgentInfo, db_path: Path
) -> None:
    keep, drop = store.append(agent.id, [msg("keep this apple"), msg("drop this apple")])
    store.delete_messages(agent.id, [drop.id])
    assert store.context_messages(agent.id) == [keep]
    assert store.count_messages(agent.id) == 1
    assert [m.id for m in store.search_text(agent.id, "apple", 1, 5).items] == [keep.id]
    assert store.search_date(agent.id, T0, T0, 1, 5).items == (keep,)
    with raw(db_path) as db:
        assert db.execute("SELECT deleted FROM messages WHERE id = ?", (drop.id,)).fetchone() == (
            1,
        )


def test_evict_moves_window_and_summary_together(
    store: SqliteStore, agent: AgentInfo, db_path: Path
) -> None:
    stored = store.append(agent.id, [msg(f"m{i}") for i in range(5)])
    store.evict(agent.id, stored[2].id, "They said m0 to m2.")
    assert store.context_messages(agent.id) == stored[3:]
    state = store.get_state(agent.id)
    assert (state.summary, state.context_start_id) == ("They said m0 to m2.", stored[2].id + 1)
    assert store.count_messages(agent.id) == 5
    assert store.search_text(agent.id, "m0", 1, 5).total == 1  # evicted, still in recall

    with raw(db_path) as db:
        db.execute(
            "CREATE TRIGGER no_bad_summary BEFORE UPDATE OF summary ON agent_state "
            "WHEN new.summary = 'bad' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(StoreError):
        store.evict(agent.id, stored[3].id, "bad")
    assert store.get_state(agent.id) == state  # neither moved
    with pytest.raises(InputError):
        store.evict("no-such-agent", 1, "x")


def test_state_extra_merges(store: SqliteStore, agent: AgentInfo) -> None:
    store.update_state_extra(agent.id, warned=True)
    store.update_state_extra(agent.id, paused_until="2026-03-01T10:00:00+00:00")
    store.update_state_extra(agent.id, warned=False)
    assert store.get_state(agent.id).extra == {
        "warned": False,
        "paused_until": "2026-03-01T10:00:00+00:00",
    }
    with pytest.raises(InputError):
        store.update_state_extra(agent.id, when=T0)  # not JSON


def test_block_history_and_undo(store: SqliteStore, agent: AgentInfo) -> None:
    first = store.set_block(agent.id, "human", "Name: Sam.", "agent:core_memory_append", T0)
    second = store.set_block(agent.id, "human", "Name: Samantha.", "user", T0)
    store.set_block(agent.id, "persona", "I am Engram, kind.", "system", T0)
    assert first.old_value == "Unknown." and second.old_value == "Name: Sam."
    assert [e.id for e in store.block_history(agent.id, "human")] == [second.id, first.id]
    assert len(store.block_history(agent.id)) == 3
    with pytest.raises(InputError):
        store.set_block(agent.id, "nope", "x", "user", T0)

    later = T0 + timedelta(minutes=1)
    undo = store.undo_edit(agent.id, second.id, later)
    assert (undo.actor, undo.old_value, undo.new_value) == ("undo", "Name: Samantha.", "Name: Sam.")
    assert undo.created_at == later
    assert store.get_blocks(agent.id)[1] == Block("human", "Name: Sam.", 50)
    history = store.block_history(agent.id, "human")
    assert history[0] == undo and history[1].id == second.id and history[1].undone
    with pytest.raises(InputError, match="already been undone"):
        store.undo_edit(agent.id, second.id, later)
    with pytest.raises(InputError):
        store.undo_edit(agent.id, undo.id, later)
    with pytest.raises(InputError):
        store.undo_edit(agent.id, 9999, later)
    assert store.get_blocks(agent.id)[1].value == "Name: Sam."


def test_add_block_keeps_insertion_order(store: SqliteStore, agent: AgentInfo) -> None:
    store.add_block(agent.id, "aardvark", "", 10)
    assert [b.label for b in store.get_blocks(agent.id)] == ["persona", "human", "aardvark"]
    with pytest.raises(InputError):
        store.add_block(agent.id, "human", "", 10)


def test_restart_restores_everything(db_path: Path) -> None:
    with SqliteStore(db_path) as first:
        info = first.create_agent("sam", BLOCKS, T0)
        stored = first.append(info.id, [msg(f"note {i}") for i in range(4)])
        first.delete_messages(info.id, [stored[3].id])
        first.evict(info.id, stored[0].id, "summary")
        first.update_state_extra(info.id, warned=True)
        first.set_block(info.id, "human", "Sam", "user", T0)
        before = (
            first.list_agents(),
            first.context_messages(info.id),
            first.get_state(info.id),
            first.get_blocks(info.id),
            first.block_history(info.id),
            first.search_text(info.id, "note", 1, 10),
        )
    with SqliteStore(db_path) as second:
        after = (
            second.list_agents(),
            second.context_messages(info.id),
            second.get_state(info.id),
            second.get_blocks(info.id),
            second.block_history(info.id),
            second.search_text(info.id, "note", 1, 10),
        )
        assert after == before
        assert second.append(info.id, [msg("next")])[0].id > stored[-1].id


@pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")
def test_acknowledged_message_survives_sigkill(db_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from app.core.messages import Kind, NewMessage\n"
        "from app.memory.sqlite_store import SqliteStore\n"
        "s = SqliteStore(Path(sys.argv[1]))\n"
        "a = s.create_agent('sam', [], datetime.now(UTC))\n"
        "m = s.append(a.id, [NewMessage(Kind.USER, 'x', 'kept', datetime.now(UTC))])[0]\n"
        "print(m.id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(db_path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with SqliteStore(db_path) as store:
        found = store.get_agent("sam")
        assert found is not None
        assert [m.id for m in store.context_messages(found.id)] == [int(done.stdout)]
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_delete_agent_cascades(store: SqliteStore, agent: AgentInfo, db_path: Path) -> None:
    store.append(agent.id, [msg("gone soon")])
    store.set_block(agent.id, "human", "x", "user", T0)
    store.delete_agent(agent.id)
    assert store.get_agent(agent.id) is None
    with raw(db_path) as db:
        for table in ["messages", "blocks", "block_edits", "agent_state", "messages_fts_docsize"]:
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,), table
    with pytest.raises(InputError):
        store.delete_agent(agent.id)


def test_corrupt_file_is_a_store_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just a text file\n" * 200)
    with pytest.raises(StoreError, match="not a readable Engram database") as caught:
        SqliteStore(db_path)
    assert "move it aside" in caught.value.hint.lower()


def test_newer_schema_is_refused(db_path: Path) -> None:
    SqliteStore(db_path).close()
    with raw(db_path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer Engram"):
        SqliteStore(db_path)


def test_old_database_is_backed_up_before_migrating(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with raw(db_path) as db:  # version 0 but not empty: a database from before our schema
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES ('precious')")
    with SqliteStore(db_path) as store:
        store.create_agent("sam", BLOCKS, T0)
    backup = db_path.with_name("engram.db.bak-v0")
    assert backup.exists() and backup.stat().st_mode & 0o777 == 0o600
    with raw(backup) as db:
        assert db.execute("SELECT body FROM notes").fetchall() == [("precious",)]
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
    with raw(db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_fresh_database_needs_no_backup(db_path: Path) -> None:
    SqliteStore(db_path).close()
    assert sorted(p.name for p in db_path.parent.iterdir() if "bak" in p.name) == []


def test_files_are_private(store: SqliteStore, agent: AgentInfo, db_path: Path) -> None:
    store.append(agent.id, [msg("secret")])
    files = [db_path, db_path.with_name("engram.db-wal"), db_path.with_name("engram.db-shm")]
    assert {f.name: f.stat().st_mode & 0o777 for f in files} == {f.name: 0o600 for f in files}


def test_concurrent_appends_all_land(store: SqliteStore, agent: AgentInfo) -> None:
    ids: list[int] = []
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(50):
                ids.extend(m.id for m in store.append(agent.id, [msg(f"thread {n} says {i}")]))
        except BaseException as err:  # surfaced below; a thread's exception is otherwise lost
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(ids) == len(set(ids)) == 200
    assert store.count_messages(agent.id) == 200
    assert store.search_text(agent.id, "says", 1, 1).total == 200


def test_closed_store_raises_store_error(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store.close()
    store.close()
    with pytest.raises(StoreError):
        store.list_agents()


def test_unwritable_location_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "a-file" / "engram.db")
