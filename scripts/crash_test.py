#!/usr/bin/env python3
"""Crash-consistency harness: SIGKILL a working Engram at random moments, then check the stores.

A child process chats with the real tiny model (forcing core-memory edits now and then) and
ingests documents, printing an acknowledgement line the moment each user message and memory
edit is durably stored. The harness kills it with SIGKILL at a random moment, N times, and after
every kill reopens the data dir and checks:

- no corrupt store: SQLite `PRAGMA integrity_check` is ok and the LanceDB table opens and counts;
- every acknowledged user message is still in recall storage;
- core memory equals the last committed version: each block equals the newest value its edit
  history records, and no acknowledged edit is missing;
- no half-ingested document without a resumable record: every source is done, failed, or still
  marked pending/ingesting so the next ingest resumes it, and every chunk its checkpoint
  (`chunks_done`) says is stored is in LanceDB.

Usage: scripts/crash_test.py [--kills N] [--seed S] [--keep DIR]
Last line: JSON with kills, corrupt_stores, lost_acknowledged, unrecoverable_ingests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MESSAGES = [
    "My name is Ada and I live in Porto.",
    "My brother Tiago plays the cello.",
    "Remember that I am allergic to peanuts.",
    "What do you know about me?",
    "I started a new job at the observatory.",
]


def child(home: Path, docs: Path, seed: int) -> None:
    """Work forever; print ACK lines (flushed) only after data is durably committed."""
    os.environ["ENGRAM_HOME"] = str(home)
    from app.config import private_files, set_offline_switches

    private_files()
    set_offline_switches()
    from app.core import events as ev
    from app.runtime import load_backend, open_stores

    rng = random.Random(seed)
    runtime = open_stores()
    runtime.backend = load_backend(runtime.settings)
    agent, _ = runtime.agent("crash")
    ingest = _ingester(runtime, agent.agent_id, docs)
    runtime.archival.count(agent.agent_id)
    print("READY", flush=True)
    # A kill comes within seconds; start some children with an ingest so that documents are
    # killed mid-ingest too, not only chats.
    turn = 2 if rng.random() < 0.4 else 0
    while True:
        turn += 1
        if turn % 3 == 0:
            ingest()
            continue
        text = f"{rng.choice(MESSAGES)} (turn {turn} of seed {seed})"
        # A memory edit in the first turn half the time: a kill then often lands in it.
        forced = rng.random() < (0.5 if turn == 1 else 0.4)
        only = ("core_memory_append",) if forced else ()
        for event in agent.chat(text, only=only):
            if isinstance(event, ev.UserMessageStored):
                print(f"ACK-MSG {event.message_id} {json.dumps(event.text)}", flush=True)
            elif isinstance(event, ev.MemoryEdited):
                print(f"ACK-EDIT {event.edit_id}", flush=True)


def _ingester(runtime: Any, agent_id: str, docs: Path) -> Callable[[], None]:
    from app.ingest.pipeline import IngestJob
    from app.memory.sources_store import SourcesStore

    sources = SourcesStore(runtime.root / "engram.db")

    def run() -> None:
        for progress in IngestJob([docs], agent_id, runtime.archival, sources, force=True).run():
            if progress.chunks_done:
                print(f"INGEST {progress.chunks_done}", flush=True)

    return run


def make_docs(folder: Path, n: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        body = "\n\n".join(
            f"## Section {j}\nNotes on topic {i}-{j}: the observatory logs star {j * 7 + i}."
            for j in range(60)
        )
        (folder / f"doc{i}.md").write_text(f"# Document {i}\n\n{body}\n", encoding="utf-8")


def check(home: Path, acked_msgs: dict[int, str], acked_edits: set[int]) -> dict[str, int]:
    """Reopen the stores the way the app does and count every kind of damage."""
    problems = {"corrupt_stores": 0, "lost_acknowledged": 0, "unrecoverable_ingests": 0}
    db = home / "engram.db"
    try:
        conn = sqlite3.connect(db)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        problems["corrupt_stores"] += 0 if ok else 1
        ids = {r[0]: r[1] for r in conn.execute("SELECT id, text FROM messages")}
        problems["lost_acknowledged"] += sum(
            1 for mid, text in acked_msgs.items() if ids.get(mid) != text
        )
        edits = {r[0] for r in conn.execute("SELECT id FROM block_edits")}
        problems["lost_acknowledged"] += len(acked_edits - edits)
        for value, newest in conn.execute(
            "SELECT b.value, (SELECT new_value FROM block_edits e WHERE e.agent_id = b.agent_id "
            "AND e.label = b.label ORDER BY e.id DESC LIMIT 1) FROM blocks b"
        ):
            if newest is not None and value != newest:
                problems["corrupt_stores"] += 1
        problems["unrecoverable_ingests"] += _unrecoverable(conn)
        expected = _checkpointed_chunks(conn)
        conn.close()
    except sqlite3.DatabaseError:
        problems["corrupt_stores"] += 1
        expected = []
    broken, missing = _lance_check(home, expected)
    problems["corrupt_stores"] += broken
    problems["unrecoverable_ingests"] += missing
    return problems


def _unrecoverable(conn: sqlite3.Connection) -> int:
    """Sources neither done nor resumable (a status the pipeline cannot pick up again)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "sources" not in tables:
        return 0
    bad = conn.execute(
        "SELECT count(*) FROM sources "
        "WHERE status NOT IN ('done', 'pending', 'ingesting', 'failed')"
    ).fetchone()[0]
    return int(bad)


def _checkpointed_chunks(conn: sqlite3.Connection) -> list[str]:
    """Passage ids that must exist: chunks below each live source's `chunks_done`."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "sources" not in tables:
        return []
    rows = conn.execute(
        "SELECT generation, chunks_done FROM sources "
        "WHERE status IN ('done', 'ingesting') AND generation <> ''"
    ).fetchall()
    return [f"{generation}{i:08x}" for generation, done in rows for i in range(done)]


_LANCE_CHECK = """
import json, sys
from pathlib import Path
from app.memory.archival import LanceArchivalStore
from app.memory.embedder import HashEmbedder
import lancedb
s = LanceArchivalStore(Path(sys.argv[1]), HashEmbedder())
s.count('x'); s.search('x', 'star')
table = lancedb.connect(sys.argv[1]).open_table('archival').to_arrow()
live = {i for i, d in zip(table.column('id').to_pylist(), table.column('deleted').to_pylist())
        if not d}
print(sum(1 for i in json.load(sys.stdin) if i not in live))
"""


def _lance_check(home: Path, expected: list[str]) -> tuple[int, int]:
    """(1 if the LanceDB store does not open and answer else 0, checkpointed chunks missing),
    in a fresh process, the way the app would reopen it."""
    if not (home / "archival").exists():
        return 0, 0
    out = subprocess.run(
        [sys.executable, "-c", _LANCE_CHECK, str(home / "archival")],
        cwd=ROOT,
        input=json.dumps(expected),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return 1, 0
    return 0, int(out.stdout.strip().splitlines()[-1])


def _run_child_until_killed(home: Path, docs: Path, seed: int, delay: float) -> list[str]:
    """Start a child, wait until it is working, let it run `delay` seconds, SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", str(home), str(docs), str(seed)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("READY"):
                ready.set()
        ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(timeout=120)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reader.join(timeout=10)
    return lines


def run(kills: int, seed: int, home: Path) -> dict[str, int]:
    rng = random.Random(seed)
    docs = home.parent / "docs"
    make_docs(docs)
    acked_msgs: dict[int, str] = {}
    acked_edits: set[int] = set()
    totals = {"kills": 0, "corrupt_stores": 0, "lost_acknowledged": 0, "unrecoverable_ingests": 0}
    for k in range(kills):
        # Half the kills come early (chat, first writes), half after the model has had time
        # for a few steps (memory edits, ingest batches; a turn took 15-35 s on a busy 2-core
        # machine, so a kill within 5 s never reached one).
        delay = rng.uniform(0.1, 5.0) if rng.random() < 0.5 else rng.uniform(5.0, 45.0)
        lines = _run_child_until_killed(home, docs, seed * 1000 + k, delay)
        for line in lines:
            if line.startswith("ACK-MSG "):
                _, mid, text = line.split(" ", 2)
                acked_msgs[int(mid)] = json.loads(text)
            elif line.startswith("ACK-EDIT "):
                acked_edits.add(int(line.split()[1]))
        found = check(home, acked_msgs, acked_edits)
        totals["kills"] += 1
        for key, value in found.items():
            totals[key] += value
        print(
            f"kill {k + 1:>3}/{kills}: acked {len(acked_msgs)} messages, "
            f"{len(acked_edits)} edits; problems {found}",
            flush=True,
        )
    return totals


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="data dir to use (kept afterwards)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="engram-crash-"))
    totals = run(args.kills, args.seed, base / "home")
    print(f"{'kills':<24}{totals['kills']:>6}")
    for key in ("corrupt_stores", "lost_acknowledged", "unrecoverable_ingests"):
        print(f"{key:<24}{totals[key]:>6}")
    print(json.dumps(totals))
    bad = totals["corrupt_stores"] + totals["lost_acknowledged"] + totals["unrecoverable_ingests"]
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
