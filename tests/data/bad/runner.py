"""Runs the bad-input corpus through Engram's real entry points and checks what it leaves.

One data dir serves the whole run, like a user's: it starts with a "keep" agent that has a
conversation, edited core memory and an ingested document (the canary). Each case then goes
through `check_gguf` and `engram chat --model FILE`, or through `engram ingest BAD GOOD`
(a good document rides along in the same job). After each case the canary must be exactly
as it was, engram.db must pass `PRAGMA integrity_check`, the input file must be unchanged,
and the good document must have gone in. The full-disk case runs on a small tmpfs.

Used by tests/trust/test_bad_inputs.py and scripts/bad_inputs.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.data.bad.corpus import GOOD_QUERY, GOOD_TEXT, Case

CANARY_AGENT = "keep"
DOCS_AGENT = "docs"
CANARY_WORDS = ("My sister Luísa lives in Braga.", "Remind me to call the dentist.")


@dataclass(frozen=True)
class Result:
    case: str
    expect: str
    outcome: str  # "refused" | "ingested" | "crashed" | "accepted"
    exit_code: int
    message: str  # the one line the user saw
    intact: bool  # canary, database integrity, the input file, the good companion document
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome == self.expect and self.intact and one_sentence(self.message)


def one_sentence(message: str) -> bool:
    """One line, no traceback, ending like a sentence (the hint may add a second one)."""
    return (
        bool(message)
        and "\n" not in message
        and "Traceback" not in message
        and len(message) <= 400
        and message.rstrip().endswith((".", ")"))
    )


# ---- the entry point, in-process --------------------------------------------------------------


def engram(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """`engram ARGV` through app.__main__.main, capturing what the user would see."""
    from app.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    fake_in = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    saved_in = sys.stdin
    sys.stdin = fake_in
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
            except Exception:  # an uncaught error is a finding, not a test crash
                import traceback

                err.write("Traceback (uncaught)\n" + traceback.format_exc())
                code = -1
    finally:
        sys.stdin = saved_in
    return code, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def hash_embedder() -> Iterator[None]:
    """Swap MiniLM for the deterministic HashEmbedder (same 384 dims) for quick runs: the
    corpus tests the readers, the pipeline and the stores, not the embedding model."""
    import app.memory.embedder as embedder

    real = embedder.MiniLMEmbedder
    embedder.MiniLMEmbedder = embedder.HashEmbedder  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        embedder.MiniLMEmbedder = real  # type: ignore[misc]


# ---- the canary -------------------------------------------------------------------------------


def prepare_home(home: Path, work: Path) -> dict[str, Any]:
    """Make the "keep" agent with messages, a core-memory edit and a document; snapshot it."""
    from datetime import UTC, datetime

    from app.core.bootstrap import get_or_create_agent
    from app.core.clock import SystemClock
    from app.core.messages import Kind, NewMessage
    from app.memory.sqlite_store import SqliteStore

    home.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(home / "engram.db")
    info, _ = get_or_create_agent(store, SystemClock(), CANARY_AGENT)
    now = datetime.now(UTC)
    store.append(info.id, [NewMessage(Kind.USER, w, w, now) for w in CANARY_WORDS])
    store.set_block(info.id, "human", "Sister: Luísa (Braga).", "user", now)
    store.close()
    doc = work / "canary" / "lighthouse.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(GOOD_TEXT, encoding="utf-8")
    code, out, err = engram("ingest", str(doc), "--agent", CANARY_AGENT)
    if code != 0:
        raise RuntimeError(f"could not prepare the canary: {out}{err}")
    return canary(home)


def canary(home: Path) -> dict[str, Any]:
    """Everything the keep agent owns, as plain values; plus the database's integrity."""
    conn = sqlite3.connect(home / "engram.db")
    try:
        (agent_id,) = conn.execute(
            "SELECT id FROM agents WHERE name = ?", (CANARY_AGENT,)
        ).fetchone()
        snap: dict[str, Any] = {
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
            "messages": conn.execute(
                "SELECT id, kind, text, deleted FROM messages WHERE agent_id = ? ORDER BY id",
                (agent_id,),
            ).fetchall(),
            "blocks": conn.execute(
                "SELECT label, value FROM blocks WHERE agent_id = ?", (agent_id,)
            ).fetchall(),
            "edits": conn.execute(
                "SELECT id, new_value, undone FROM block_edits WHERE agent_id = ?", (agent_id,)
            ).fetchall(),
            "sources": conn.execute(
                "SELECT path, status, chunks_done FROM sources WHERE agent_id = ?", (agent_id,)
            ).fetchall(),
        }
    finally:
        conn.close()
    snap["passages"] = archival_hits(home, CANARY_AGENT, GOOD_QUERY)
    return snap


def archival_hits(home: Path, agent: str, query: str, must: str = "") -> list[str]:
    """Texts (with their location) of the agent's passages found for `query` that hold
    `must` (default: the query's first word)."""
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import MiniLMEmbedder
    from app.memory.sqlite_store import SqliteStore

    with SqliteStore(home / "engram.db") as store:
        info = store.get_agent(agent)
    if info is None:
        return []
    archive = LanceArchivalStore(home / "archival", _embedder(MiniLMEmbedder))
    found = archive.search(info.id, query, page=1, page_size=50)
    must = must or query.split()[0]
    return sorted(
        f"{p.location}: {p.text}" for p in found.items if must in f"{p.location}: {p.text}"
    )


_EMBEDDERS: dict[type, Any] = {}


def _embedder(kind: type) -> Any:
    """One loaded embedder per class for the checks (MiniLM takes seconds to load)."""
    if kind not in _EMBEDDERS:
        _EMBEDDERS[kind] = kind()
    return _EMBEDDERS[kind]


# ---- running cases ----------------------------------------------------------------------------


def digest(path: Path) -> str:
    if path.is_dir():
        return f"{sum(1 for _ in path.rglob('*'))} entries"
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_case(case: Case, home: Path, work: Path, before: dict[str, Any]) -> Result:
    folder = work / case.name
    folder.mkdir(parents=True)
    bad = case.make(folder)
    bad_digest = digest(bad)
    good = folder / f"good-{case.name}.md"
    good.write_text(GOOD_TEXT.replace("Ines", f"Ines ({case.name})"), encoding="utf-8")
    start = time.perf_counter()
    if case.entry == "model":
        outcome, code, message, problems = _model_case(bad)
    else:
        outcome, code, message, problems = _ingest_case(bad, good, home, case)
    seconds = time.perf_counter() - start
    if outcome == "refused" and bad.name not in message:
        problems.append("the message does not name the file")
    after = canary(home)
    if after != before:
        problems.append("the keep agent changed: " + _diff(before, after))
    if digest(bad) != bad_digest:
        problems.append("the input itself was modified")
    return Result(case.name, case.expect, outcome, code, message, not problems, seconds,
                  tuple(problems))  # fmt: skip


def _model_case(path: Path) -> tuple[str, int, str, list[str]]:
    from app.core.errors import ModelError
    from app.llm.models import check_gguf

    problems: list[str] = []
    try:
        check_gguf(path)
        checked = ""
    except ModelError as err:
        checked = err.user_message
    code, out, stderr = engram(
        "chat", "--model", str(path), "--agent", CANARY_AGENT, stdin="/exit\n"
    )
    lines = [line for line in stderr.splitlines() if line.strip()]
    said = lines[-1].removeprefix("engram: ") if lines else out.strip()
    if "Traceback" in stderr:
        return "crashed", code, said, [stderr[-500:]]
    if checked and checked != said:
        problems.append(f"check_gguf said something else: {checked}")
    return ("refused" if code == 1 else "accepted"), code, said, problems


def _ingest_case(bad: Path, good: Path, home: Path, case: Case) -> tuple[str, int, str, list[str]]:
    code, out, err = engram("ingest", str(bad), str(good), "--agent", DOCS_AGENT)
    if "Traceback" in err:
        return "crashed", code, err.strip().splitlines()[-1], [err[-500:]]
    failed = [line.split(": ", 2)[-1] for line in out.splitlines() if "failed: " in line]
    summary = next((line for line in out.splitlines() if line.startswith("Ingested")), "")
    problems: list[str] = []
    if not archival_hits(home, DOCS_AGENT, f"Ines ({case.name})"):
        problems.append("the good document in the same job did not go in")
    query, must = case.probe
    if query and not failed and not archival_hits(home, DOCS_AGENT, query, must):
        problems.append(f"ingested, but a search for {query!r} does not find {must!r}")
    if failed:
        return "refused", code, failed[0], problems
    return ("ingested" if code == 0 else "crashed"), code, summary, problems


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    return ", ".join(k for k in before if before[k] != after.get(k)) or "?"


# ---- the full disk ----------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(mount: Path, size: str = "12m") -> Iterator[Path | None]:
    """A tmpfs of `size` at `mount` (needs root); yields None where mounting is not allowed."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a filler file until the disk refuses more; leaves about nothing free."""
    filler = folder / "filler.bin"
    block = b"\0" * (64 * 1024)
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(block)
            handle.flush()
    with contextlib.suppress(OSError), (folder / "filler2.bin").open("wb") as handle:
        while True:  # the last few bytes
            handle.write(b"\0" * 512)
            handle.flush()
    return filler


def full_disk_case(disk: Path, work: Path) -> Result:
    """A data dir on a full disk: writes fail with one sentence, nothing already stored is
    lost, and after space is freed everything works again."""
    home = disk / "home"
    os.environ["ENGRAM_HOME"] = str(home)
    before = prepare_home(home, work / "full-disk")
    doc = work / "full-disk" / "new.md"
    doc.write_text("# New\n\n" + "The ferry to Cacilhas leaves every twenty minutes.\n" * 200,
                   encoding="utf-8")  # fmt: skip
    from app.memory.sqlite_store import SqliteStore

    running = SqliteStore(home / "engram.db")  # the app was running when the disk filled up
    fill(disk)
    start = time.perf_counter()
    code, out, err = engram("ingest", str(doc), "--agent", CANARY_AGENT)
    said = _said(out, err)
    chat_error = _append_on_full_disk(running)
    running.close()
    seconds = time.perf_counter() - start
    problems = []
    if "Traceback" in err:
        problems.append(err[-500:])
    for filler in disk.glob("filler*.bin"):
        filler.unlink()
    after = canary(home)
    if after != before:
        problems.append("the keep agent changed: " + _diff(before, after))
    code2, out2, err2 = engram("ingest", str(doc), "--agent", CANARY_AGENT)
    if code2 != 0 or not archival_hits(home, CANARY_AGENT, "ferry Cacilhas"):
        problems.append(f"no recovery after freeing space: {out2}{err2}"[-300:])
    outcome = "refused" if code != 0 and not problems else "crashed"
    message = f"ingest: {said} | chat: {chat_error}"
    result = Result("full-disk", "refused", outcome, code, message, not problems, seconds,
                    tuple(problems))  # fmt: skip
    return result


def _said(out: str, err: str) -> str:
    for line in (err + "\n" + out).splitlines():
        if line.startswith("engram: ") or "failed: " in line:
            return line.removeprefix("engram: ").split("failed: ")[-1]
    return (err or out).strip().splitlines()[-1] if (err or out).strip() else ""


def _append_on_full_disk(store: Any) -> str:
    """What storing a new chat message says when the disk is full (the agent's first write)."""
    from datetime import UTC, datetime

    from app.core.errors import EngramError
    from app.core.messages import Kind, NewMessage

    info = store.get_agent(CANARY_AGENT)
    text = "A new message written while the disk is full. " * 200
    try:
        store.append(info.id, [NewMessage(Kind.USER, text, text, datetime.now(UTC))])
    except EngramError as err:
        return err.user_message
    return "stored (the disk still had room)"


def run_all(cases: Sequence[Case], base: Path, *, full_disk: bool = True) -> list[Result]:
    """Every case on one data dir under `base`, then the full disk on its own tmpfs."""
    home, work = base / "home", base / "work"
    os.environ["ENGRAM_HOME"] = str(home)
    before = prepare_home(home, work)
    results = [run_case(case, home, work, before) for case in cases]
    if full_disk:
        with small_disk(base / "disk") as disk:
            if disk is not None:
                results.append(full_disk_case(disk, work))
        os.environ["ENGRAM_HOME"] = str(home)
    return results
