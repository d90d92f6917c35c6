"""IngestJob on real files, a real LanceDB directory and engram.db in tmp_path.

Most tests embed with a counting HashEmbedder, so "nothing was re-embedded" is a number; one
test marked `embed` runs the real MiniLM model end to end. The resume test kills a child
process with SIGKILL in the middle of an ingest, at both dangerous moments: right after a
checkpoint, and after an archival write whose checkpoint never happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.core.errors import StoreError
from app.core.messages import Passage
from app.ingest import SEPARATOR, read_document
from app.ingest.pipeline import IngestJob, IngestProgress, remove_source
from app.ingest.progress import EtaMeter
from app.memory.archival import LanceArchivalStore, NewPassage
from app.memory.embedder import HashEmbedder, Vectors
from app.memory.sources_store import SourcesStore
from app.memory.sqlite_store import SqliteStore
from tests.ingest.test_readers import write_docx, write_pdf

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WORDS = (
    "river mountain garden letter engine harbour lantern orchard meadow quartz violin "
    "copper willow falcon ember glacier saffron tundra velvet walnut"
).split()


class CountingEmbedder(HashEmbedder):
    """HashEmbedder that remembers every text it embedded."""

    instances = 0

    def __init__(self, dim: int = 384) -> None:
        super().__init__(dim)
        self.texts: list[str] = []
        type(self).instances += 1

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().embed(texts)


def prose(paragraphs: int, words: int = 110, seed: int = 0) -> str:
    """Paragraphs of made-up words, each about one chunk of the default budget."""
    out = []
    for p in range(paragraphs):
        picked = [WORDS[(seed * 7 + p * 13 + i * 3) % len(WORDS)] for i in range(words)]
        out.append(f"Paragraph {seed}-{p}: " + " ".join(picked) + ".")
    return "\n\n".join(out)


def extracted(path: Path) -> str:
    return SEPARATOR.join(section.text for section in read_document(path))


class Env:
    """The stores of one test's data dir, and an agent."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.recall = SqliteStore(root / "engram.db")
        self.sources = SourcesStore(root / "engram.db")
        self.embedder = CountingEmbedder()
        self.archival = LanceArchivalStore(root / "archival", self.embedder)
        self.agent = self.recall.create_agent("tester", [], T0).id

    def run(self, *paths: Path, **options: object) -> list[IngestProgress]:
        job = IngestJob(list(paths), self.agent, self.archival, self.sources, **options)  # type: ignore[arg-type]
        return list(job.run())

    def passages(self) -> list[Passage]:
        return list(self.archival.list_passages(self.agent, page_size=10_000).items)

    def close(self) -> None:
        self.sources.close()
        self.recall.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path / "data")
    yield made
    made.close()


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder of every supported kind, a subfolder, and three files that cannot be read."""
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "notes.md").write_text(
        "# Travel\n\nWe visited the harbour lantern festival.\n\n## Food\n\nSaffron rice.\n",
        encoding="utf-8",
    )
    (docs / "sub" / "plain.txt").write_text(prose(3, seed=1), encoding="utf-8")
    (docs / "page.html").write_text(
        "<html><body><h1>Guide</h1><p>The copper violin sits in the orchard.</p></body></html>",
        encoding="utf-8",
    )
    write_docx(docs / "report.docx")
    write_pdf(docs / "book.pdf", [["Page one talks about glaciers."], ["Page two: tundra."]])
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n" * 10)
    (docs / "empty.txt").write_bytes(b"")
    (docs / "sub" / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4)
    return docs


# ---- a folder ---------------------------------------------------------------------------------
def test_folder_ingest_stores_good_files_and_reports_bad_ones(env: Env, library: Path) -> None:
    events = env.run(library)
    last = events[-1]
    assert last.finished and not last.cancelled
    assert (last.files_total, last.files_done, last.files_skipped) == (8, 8, 0)
    bad = {Path(path).name: message for path, message in last.errors}
    assert set(bad) == {"broken.pdf", "empty.txt", "photo.txt"}
    assert "not a readable PDF" in bad["broken.pdf"] and "is empty" in bad["empty.txt"]
    assert "binary" in bad["photo.txt"]
    done = [events[i].files_done for i in range(len(events))]
    assert done == sorted(done)

    sources = {Path(s.path).name: s for s in env.sources.list(env.agent)}
    assert {n for n, s in sources.items() if s.status == "failed"} == set(bad)
    good = {n: s for n, s in sources.items() if s.status == "done"}
    assert set(good) == {"notes.md", "plain.txt", "page.html", "report.docx", "book.pdf"}
    passages = env.passages()
    assert len(passages) == sum(s.chunks_total or 0 for s in good.values()) == last.chunks_done
    for passage in passages:
        meta = passage.metadata
        path = Path(meta["path"])
        assert passage.location.startswith(f"{path.name}, ")
        assert extracted(path)[meta["char_start"] : meta["char_end"]] == passage.text
        assert meta["source_id"] == sources[path.name].id
        assert passage.id == sources[path.name].passage_id(meta["chunk_index"])
    pdf = [p for p in passages if p.metadata["path"].endswith("book.pdf")]
    assert [(p.location, p.metadata["page"]) for p in pdf] == [
        ("book.pdf, page 1", 1),
        ("book.pdf, page 2", 2),
    ]
    hit = env.archival.search(env.agent, "harbour lantern festival").items[0]
    assert hit.location == "notes.md, Travel" and hit.source == "document"


def test_unchanged_files_are_not_embedded_again(env: Env, library: Path) -> None:
    env.run(library)
    embedded = len(env.embedder.texts)
    before = sorted(p.id for p in env.passages())
    last = env.run(library)[-1]
    assert len(env.embedder.texts) == embedded  # nothing re-embedded
    assert last.files_skipped == 5 and last.chunks_done == 0 and len(last.errors) == 3
    assert sorted(p.id for p in env.passages()) == before


def test_changed_file_replaces_its_chunks_only(env: Env, library: Path) -> None:
    env.run(library)
    notes = library / "notes.md"
    old_ids = {p.id for p in env.passages() if p.metadata["path"] == str(notes)}
    others = {p.id for p in env.passages()} - old_ids
    notes.write_text("# Travel\n\nNow only the walnut meadow remains.\n", encoding="utf-8")
    env.embedder.texts.clear()
    env.run(library)
    assert env.embedder.texts == ["Now only the walnut meadow remains."]
    passages = env.passages()
    mine = [p for p in passages if p.metadata["path"] == str(notes)]
    assert [p.text for p in mine] == ["Now only the walnut meadow remains."]
    assert not old_ids & {p.id for p in passages}
    assert others <= {p.id for p in passages}
    assert all("Saffron" not in p.text for p in passages)


def test_remove_source_removes_its_passages(env: Env, library: Path) -> None:
    env.run(library)
    source = env.sources.find(env.agent, str((library / "book.pdf").resolve()))
    assert source is not None
    total = len(env.passages())
    remove_source(env.archival, env.sources, source.id)
    assert env.sources.get(source.id) is None
    left = env.passages()
    assert len(left) == total - 2
    assert all(not p.metadata["path"].endswith("book.pdf") for p in left)


def test_a_copy_is_skipped_and_a_moved_file_keeps_its_passages(env: Env, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    original = folder / "a.txt"
    original.write_text(prose(2, seed=5), encoding="utf-8")
    env.run(folder)
    (folder / "copy.txt").write_bytes(original.read_bytes())
    env.embedder.texts.clear()
    last = env.run(folder)[-1]
    assert env.embedder.texts == [] and not last.errors
    assert any("Same content as" in note for _, note in last.notes)
    assert [Path(s.path).name for s in env.sources.list(env.agent)] == ["a.txt"]

    moved = tmp_path / "elsewhere.txt"
    original.rename(moved)
    (folder / "copy.txt").unlink()
    ids = sorted(p.id for p in env.passages())
    last = env.run(moved)[-1]
    assert env.embedder.texts == [] and any("Moved from" in n for _, n in last.notes)
    [source] = env.sources.list(env.agent)
    assert source.path == str(moved.resolve()) and source.status == "done"
    assert sorted(p.id for p in env.passages()) == ids


# ---- bounded batches, cancel, resume ----------------------------------------------------------
def test_batches_are_bounded_and_progress_is_reported(env: Env, tmp_path: Path) -> None:
    doc = tmp_path / "long.txt"
    doc.write_text(prose(10), encoding="utf-8")
    calls: list[int] = []
    inner = env.archival.insert_passages

    def spy(agent_id: str, passages: Sequence[NewPassage], **kw: object) -> list[str]:
        calls.append(len(passages))
        return inner(agent_id, passages, **kw)  # type: ignore[arg-type]

    env.archival.insert_passages = spy  # type: ignore[method-assign]
    events = env.run(doc, batch_size=3)
    assert calls == [3, 3, 3, 1]
    chunks = [e.chunks_done for e in events]
    assert chunks == sorted(chunks) and chunks[-1] == 10
    assert all(e.current_file == str(doc.resolve()) for e in events[1:-1])
    assert all(e.eta_seconds is None or e.eta_seconds >= 0 for e in events)


def test_cancel_between_batches_then_resume(env: Env, tmp_path: Path) -> None:
    doc = tmp_path / "long.txt"
    doc.write_text(prose(10), encoding="utf-8")
    seen: list[IngestProgress] = []
    job = IngestJob(
        [doc],
        env.agent,
        env.archival,
        env.sources,
        batch_size=4,
        cancel=lambda: bool(seen) and seen[-1].chunks_done >= 4,
    )
    for progress in job.run():
        seen.append(progress)
    assert seen[-1].cancelled and seen[-1].chunks_done == 4
    [source] = env.sources.list(env.agent)
    assert (source.status, source.chunks_done) == ("ingesting", 4)
    env.embedder.texts.clear()
    env.run(doc, batch_size=4)
    assert len(env.embedder.texts) == 6
    assert sorted(p.metadata["chunk_index"] for p in env.passages()) == list(range(10))


def test_a_store_failure_stops_the_job_and_keeps_the_checkpoint(env: Env, tmp_path: Path) -> None:
    doc = tmp_path / "long.txt"
    doc.write_text(prose(6), encoding="utf-8")
    inner = env.archival.insert_passages
    calls = 0

    def failing(agent_id: str, passages: Sequence[NewPassage], **kw: object) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise StoreError("The disk is full.")
        return inner(agent_id, passages, **kw)  # type: ignore[arg-type]

    env.archival.insert_passages = failing  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        env.run(doc, batch_size=2)
    [source] = env.sources.list(env.agent)
    assert (source.status, source.chunks_done, source.chunks_written) == ("ingesting", 2, 4)
    env.archival.insert_passages = inner  # type: ignore[method-assign]
    env.run(doc, batch_size=2)
    assert sorted(p.metadata["chunk_index"] for p in env.passages()) == list(range(6))


CHILD = """
import os, signal, sys
from pathlib import Path
from app.ingest.pipeline import IngestJob
from app.memory.archival import LanceArchivalStore
from app.memory.embedder import HashEmbedder
from app.memory.sources_store import SourcesStore

root, doc, agent, mode, after = sys.argv[1:]
store = LanceArchivalStore(Path(root) / "archival", HashEmbedder())


class KillAfterWrite:
    calls = 0

    def insert_passages(self, *args, **kwargs):
        ids = store.insert_passages(*args, **kwargs)
        KillAfterWrite.calls += 1
        if mode == "in-flight" and KillAfterWrite.calls == int(after):
            os.kill(os.getpid(), signal.SIGKILL)  # written, not checkpointed
        return ids

    def delete(self, *args):
        return store.delete(*args)

    def purge_deleted(self, *args):
        return store.purge_deleted(*args)


job = IngestJob([Path(doc)], agent, KillAfterWrite(), SourcesStore(Path(root) / "engram.db"),
                batch_size=4)
for progress in job.run():
    if mode == "checkpointed" and progress.chunks_done >= 4 * int(after):
        os.kill(os.getpid(), signal.SIGKILL)
sys.exit(3)
"""


@pytest.mark.parametrize(("mode", "embedded_again"), [("checkpointed", 28), ("in-flight", 32)])
def test_resume_after_sigkill(tmp_path: Path, mode: str, embedded_again: int) -> None:
    doc = tmp_path / "book.txt"
    doc.write_text(prose(40), encoding="utf-8")
    root = tmp_path / "data"
    env = Env(root)
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(root), str(doc), env.agent, mode, "3"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert child.returncode == -signal.SIGKILL, child.stderr
        [killed] = env.sources.list(env.agent)
        assert killed.status == "ingesting" and killed.chunks_written == 12
        assert killed.chunks_done == (12 if mode == "checkpointed" else 8)
        assert len(env.passages()) == 12  # the in-flight batch did reach the archive

        last = env.run(doc, batch_size=4)[-1]
        assert last.finished and not last.errors
        assert len(env.embedder.texts) == embedded_again
        indexes = Counter(p.metadata["chunk_index"] for p in env.passages())
        assert sorted(indexes) == list(range(40)) and set(indexes.values()) == {1}
        [source] = env.sources.list(env.agent)
        assert (source.status, source.chunks_done, source.chunks_total) == ("done", 40, 40)
    finally:
        env.close()


# ---- the ETA ----------------------------------------------------------------------------------
def test_eta_counts_work_not_skipped_files() -> None:
    now = [0.0]
    meter = EtaMeter(clock=lambda: now[0])
    meter.start({"skip": 1000, "a": 100, "b": 300})
    meter.begin("skip")
    meter.file_done("skip", worked=False)
    assert meter.eta() is None
    meter.begin("a")
    now[0] = 1.0
    meter.progress(0.5)
    assert meter.eta() == pytest.approx(350 / 50)  # 50 bytes a second, 350 to go
    now[0] = 2.0
    meter.file_done("a", worked=True)
    assert meter.eta() == pytest.approx(300 / 50)


# ---- the real model ---------------------------------------------------------------------------
@pytest.mark.embed
def test_minilm_end_to_end_cites_the_page(tmp_path: Path, minilm: object) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(
        docs / "manual.pdf",
        [
            ["Installing the espresso machine: fill the water tank first."],
            ["Descaling: run citric acid through the boiler every three months."],
        ],
    )
    (docs / "diary.md").write_text("# May\n\nWe hiked to the glacier lake.\n", encoding="utf-8")
    root = tmp_path / "data"
    root.mkdir()
    recall = SqliteStore(root / "engram.db")
    sources = SourcesStore(root / "engram.db")
    try:
        archival = LanceArchivalStore(root / "archival", minilm)  # type: ignore[arg-type]
        agent = recall.create_agent("real", [], T0).id
        last = list(IngestJob([docs], agent, archival, sources).run())[-1]
        assert last.chunks_done == 3 and not last.errors
        hit = archival.search(agent, "how often should I remove limescale?").items[0]
        assert hit.location == "manual.pdf, page 2"
        assert hit.metadata["page"] == 2 and hit.metadata["chunk_index"] == 1
    finally:
        sources.close()
        recall.close()


@pytest.mark.embed
def test_bench_script_runs_and_ends_with_its_json_line() -> None:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "scripts" / "bench_ingest.py"), "--pages", "2"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("measure") and len(lines) > 5
    summary = json.loads(lines[-1])
    assert set(summary) == {"ingest_ratio", "ingest_peak_rss_mb"}
    assert summary["ingest_ratio"] > 0 and summary["ingest_peak_rss_mb"] > 100


def test_every_bad_file_kind_is_reported_and_the_rest_go_in(env: Env, tmp_path: Path) -> None:
    """The issue's list: corrupt PDF, zero bytes, binary renamed .txt, non-UTF-8, huge line."""
    docs = tmp_path / "bad"
    docs.mkdir()
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (docs / "zero.md").write_bytes(b"")
    (docs / "binary.txt").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 16)
    (docs / "latin1.txt").write_bytes("Le café du quai, crème brûlée.".encode("latin-1"))
    (docs / "oneline.txt").write_bytes(b"walnut glacier saffron " * 8_000)  # 184 kB, no newline
    (docs / "good.md").write_text("# Keep\n\nThe velvet lantern is in the attic.\n")
    last = env.run(docs)[-1]
    errors = {Path(p).name: m for p, m in last.errors}
    notes = {Path(p).name: m for p, m in last.notes}
    assert set(errors) == {"corrupt.pdf", "zero.md", "binary.txt"}
    assert "not a readable PDF" in errors["corrupt.pdf"] and "empty" in errors["zero.md"]
    assert "binary" in errors["binary.txt"]
    assert "not UTF-8" in notes["latin1.txt"]  # read, and said so
    status = {Path(s.path).name: s.status for s in env.sources.list(env.agent)}
    assert status == {
        "corrupt.pdf": "failed",
        "zero.md": "failed",
        "binary.txt": "failed",
        "latin1.txt": "done",
        "oneline.txt": "done",
        "good.md": "done",
    }
    by_file = Counter(Path(p.metadata["path"]).name for p in env.passages())
    assert by_file["oneline.txt"] > 20 and by_file["good.md"] == by_file["latin1.txt"] == 1
    assert max(len(p.text) for p in env.passages()) < 4000  # the long line was cut up
    assert env.archival.search(env.agent, "crème brûlée").items[0].text.startswith("Le café")
