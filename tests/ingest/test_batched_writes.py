"""Small files share LanceDB writes (issue #8: 10,000 one-line notes were 10,000 inserts), and
a file is still marked done only once its chunks are in the archive: a SIGKILL before or after
the shared write, a full disk, or a cancel all leave checkpoints that resume to exactly one
copy of every chunk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from app.core.errors import StoreError
from app.ingest import pipeline
from app.ingest.pipeline import IngestJob
from app.memory.archival import NewPassage
from tests.ingest.test_pipeline import Env, prose


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path / "data")
    yield made
    made.close()


def notes(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"note-{i:04d}.txt").write_text(f"Note {i}: buy stamp {i}.\n", "utf-8")
    return folder


def spy_writes(env: Env) -> list[int]:
    calls: list[int] = []
    inner = env.archival.insert_passages

    def spy(agent_id: str, passages: Sequence[NewPassage], **kw: object) -> list[str]:
        calls.append(len(passages))
        return inner(agent_id, passages, **kw)  # type: ignore[arg-type]

    env.archival.insert_passages = spy  # type: ignore[method-assign]
    return calls


def stored_once(env: Env, count: int) -> None:
    paths = Counter(Path(p.metadata["path"]).name for p in env.passages())
    assert sorted(paths) == [f"note-{i:04d}.txt" for i in range(count)]
    assert set(paths.values()) == {1}
    sources = env.sources.list(env.agent)
    assert len(sources) == count and {s.status for s in sources} == {"done"}


def test_small_files_share_writes_of_at_most_flush_chunks(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 1e9)  # only the size limit applies
    folder = notes(tmp_path / "inbox", 300)
    calls = spy_writes(env)
    events = env.run(folder)
    assert calls == [pipeline.FLUSH_CHUNKS, 300 - pipeline.FLUSH_CHUNKS]
    assert events[-1].finished and events[-1].chunks_done == 300
    stored_once(env, 300)
    assert env.archival.search(env.agent, "stamp 299", page_size=1).items[0].text == (
        "Note 299: buy stamp 299."
    )


def test_a_file_waits_no_longer_than_flush_seconds(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 0.0)  # every wait is already too long
    folder = notes(tmp_path / "inbox", 5)
    calls = spy_writes(env)
    env.run(folder)
    assert calls == [1] * 5
    stored_once(env, 5)


def test_waiting_chunks_are_written_before_a_big_files_own_batches(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 1e9)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha note about the harbour.\n", "utf-8")
    (folder / "b.txt").write_text(prose(10), "utf-8")  # 10 chunks
    (folder / "c.txt").write_text("Gamma note about the orchard.\n", "utf-8")
    calls = spy_writes(env)
    env.run(folder, batch_size=4)
    assert calls == [1, 4, 4, 2 + 1]  # a alone, b's full batches, b's tail shared with c
    indexes = Counter(
        (Path(p.metadata["path"]).name, p.metadata["chunk_index"]) for p in env.passages()
    )
    assert len(indexes) == 12 and set(indexes.values()) == {1}


def test_a_failed_shared_write_leaves_every_waiting_file_resumable(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 1e9)
    folder = notes(tmp_path / "inbox", 20)
    inner = env.archival.insert_passages

    def full_disk(agent_id: str, passages: Sequence[NewPassage], **kw: object) -> list[str]:
        raise StoreError("The disk is full.")

    env.archival.insert_passages = full_disk  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        env.run(folder)
    sources = env.sources.list(env.agent)
    assert {(s.status, s.chunks_done, s.chunks_written) for s in sources} == {("ingesting", 0, 1)}
    assert env.passages() == []
    env.archival.insert_passages = inner  # type: ignore[method-assign]
    env.run(folder)
    stored_once(env, 20)


def test_cancel_writes_what_was_waiting(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "FLUSH_SECONDS", 1e9)
    folder = notes(tmp_path / "inbox", 12)
    seen: list[pipeline.IngestProgress] = []
    job = IngestJob(
        [folder],
        env.agent,
        env.archival,
        env.sources,
        cancel=lambda: bool(seen) and seen[-1].files_done >= 5,
    )
    for progress in job.run():
        seen.append(progress)
    assert seen[-1].cancelled and seen[-1].chunks_done == 5
    done = [s for s in env.sources.list(env.agent) if s.status == "done"]
    assert len(done) == 5 and len(env.passages()) == 5
    env.run(folder)
    stored_once(env, 12)


CHILD = """
import os, signal, sys
from pathlib import Path
from app.ingest import pipeline
from app.ingest.pipeline import IngestJob
from app.memory.archival import LanceArchivalStore
from app.memory.embedder import HashEmbedder
from app.memory.sources_store import SourcesStore

root, folder, agent, mode = sys.argv[1:]
pipeline.FLUSH_SECONDS = 1e9
store = LanceArchivalStore(Path(root) / "archival", HashEmbedder())


class KillAtWrite:
    def insert_passages(self, *args, **kwargs):
        if mode == "before-write":
            os.kill(os.getpid(), signal.SIGKILL)
        ids = store.insert_passages(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)  # written, no file marked done yet
        return ids

    def delete(self, *args):
        return store.delete(*args)

    def purge_deleted(self, *args):
        return store.purge_deleted(*args)


for progress in IngestJob([Path(folder)], agent, KillAtWrite(),
                          SourcesStore(Path(root) / "engram.db")).run():
    pass
sys.exit(3)
"""


@pytest.mark.parametrize(("mode", "landed"), [("before-write", 0), ("after-write", 30)])
def test_sigkill_around_the_shared_write_resumes_to_one_copy_of_each_file(
    tmp_path: Path, mode: str, landed: int
) -> None:
    folder = notes(tmp_path / "inbox", 30)
    root = tmp_path / "data"
    env = Env(root)
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), str(folder), env.agent, mode],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        killed = env.sources.list(env.agent)
        assert len(killed) == 30
        # What crash_test checks: no source claims a chunk that is not in the archive.
        assert all(s.status == "ingesting" and s.chunks_done == 0 for s in killed)
        assert all(s.chunks_written == 1 for s in killed)
        assert len(env.passages()) == landed

        last = env.run(folder)[-1]
        assert last.finished and not last.errors
        stored_once(env, 30)
    finally:
        env.close()
