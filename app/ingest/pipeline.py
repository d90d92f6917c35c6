"""An ingest job: files in, citeable passages in an agent's archival memory, resumable.

Each file is hashed, compared with the library (`SourcesStore`) and then skipped (same bytes,
already done), resumed (a killed ingest of the same bytes), or (re)ingested from the start (new
or changed; a changed file's old passages are deleted first). Reading is streamed: sections ->
chunks -> batches of `batch_size`, each batch one embedding call and one archival write, so
memory stays bounded whatever the file's size. The last (or only) batch of a file waits in a
pending write shared by the next files and goes in with theirs once it holds `FLUSH_CHUNKS`
chunks or has waited `FLUSH_SECONDS` (and at the end, on cancel, before a file's own write):
a folder of 10,000 one-line notes is ~40 LanceDB writes, not 10,000 (each write is a table
version and a fragment). Crash safety is unchanged: a file's chunks are reserved in its
checkpoint before they wait, and it is marked done only after the write that holds them.
A file that cannot be read is recorded as failed with its one-sentence reason and the job goes
on; a store failure (a full disk) stops the job with the file's checkpoint intact. `run()`
yields an `IngestProgress` at every file and batch; cancelling is checked between batches and
leaves a checkpoint to resume from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, cast

from app.core.clock import SystemClock
from app.core.errors import IngestError, InputError
from app.core.protocols import Clock
from app.ingest.chunking import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS, Chunk, chunk_sections
from app.ingest.library import (
    DocumentArchive,
    SharedArchive,
    attach_source,
    delete_source_passages,
    remove_source,
)
from app.ingest.progress import EtaMeter, FileMeter
from app.ingest.readers import document_date, read_document
from app.ingest.scan import content_hash, iter_files
from app.memory.archival import NewPassage
from app.memory.sources_store import Source, SourcesStore

DOCUMENT_SOURCE = "document"
DEFAULT_BATCH_SIZE = 64
FLUSH_CHUNKS = 256  # most chunks of several files that wait for one shared write
FLUSH_SECONDS = 1.0  # longest a finished file waits for its write


@dataclass(frozen=True)
class IngestProgress:
    """Where a job stands. `errors` are (path, one-sentence reason) of files that failed;
    `notes` are (path, warning) of files read with a compromise (a skipped page)."""

    files_done: int
    files_total: int
    chunks_done: int
    current_file: str
    eta_seconds: float | None
    errors: tuple[tuple[str, str], ...] = ()
    files_skipped: int = 0
    notes: tuple[tuple[str, str], ...] = ()
    finished: bool = False
    cancelled: bool = False


class Outcome(Enum):
    INGESTED = "ingested"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class _Cancelled(Exception):
    """Raised inside a file's ingest when the job is cancelled between batches."""


@dataclass
class _Tail:
    """A file's last chunks, read and reserved, waiting for the shared write."""

    path: Path
    source: Source
    chunks: list[Chunk]
    total: int
    warnings: list[str]


@dataclass
class _PendingWrite:
    """The tails of consecutive files that go into LanceDB as one insert."""

    tails: list[_Tail] = field(default_factory=list)
    chunks: int = 0
    since: float = 0.0  # time.monotonic() when the first tail arrived

    def add(self, tail: _Tail) -> None:
        if not self.tails:
            self.since = time.monotonic()
        self.tails.append(tail)
        self.chunks += len(tail.chunks)

    def due(self, limit: int) -> bool:
        if not self.tails:
            return False
        return self.chunks >= limit or time.monotonic() - self.since >= FLUSH_SECONDS

    def take(self) -> list[_Tail]:
        tails, self.tails, self.chunks = self.tails, [], 0
        return tails


class IngestJob:
    """Ingest `paths` (files or folders, recursively) into `agent_id`'s archival memory."""

    def __init__(
        self,
        paths: Sequence[Path],
        agent_id: str,
        archival: DocumentArchive,
        sources: SourcesStore,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        cancel: Callable[[], bool] | None = None,
        clock: Clock | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        force: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InputError("The batch size must be at least 1.")
        self._paths = [Path(p) for p in paths]
        self._agent_id = agent_id
        self._archival = archival
        self._sources = sources
        self._batch_size = batch_size
        self._cancelled = cancel or (lambda: False)
        self._clock = clock or SystemClock()
        self._max_tokens = max_tokens
        self._force = force  # re-read files even when unchanged (re-index)
        self._state = IngestProgress(0, 0, 0, "", None)
        self._eta = EtaMeter()
        self._pending = _PendingWrite()
        self._flush_chunks = max(FLUSH_CHUNKS, batch_size)

    def run(self) -> Iterator[IngestProgress]:
        # One path once: a file's waiting tail must not meet a second run of the same file.
        files = list(dict.fromkeys(_canonical(p) for p in iter_files(self._paths)))
        self._eta.start({str(f): _size(f) for f in files})
        self._sources.register(self._agent_id, [str(f) for f in files], self._clock.now())
        self._state = IngestProgress(0, len(files), 0, "", None)
        yield self._state
        for path in files:
            if self._cancelled():
                yield from self._flush()
                yield self._update(current_file="", finished=True, cancelled=True)
                return
            self._eta.begin(str(path))
            yield self._update(current_file=str(path))
            outcome = yield from self._one_file(path)
            if outcome is Outcome.CANCELLED:
                yield from self._flush()
                yield self._update(finished=True, cancelled=True)
                return
            skipped = self._state.files_skipped + (outcome is Outcome.SKIPPED)
            self._eta.file_done(str(path), worked=outcome is not Outcome.SKIPPED)
            yield self._update(files_done=self._state.files_done + 1, files_skipped=skipped)
            if self._pending.due(self._flush_chunks):
                yield from self._flush()
        yield from self._flush()
        yield self._update(current_file="", eta_seconds=0.0, finished=True)

    def _update(self, **changes: Any) -> IngestProgress:
        changes.setdefault("eta_seconds", self._eta.eta())
        self._state = replace(self._state, **changes)
        return self._state

    def _one_file(self, path: Path) -> Generator[IngestProgress, None, Outcome]:
        key = str(path)
        try:
            source = self._prepare(path)
            if source is None:
                return Outcome.SKIPPED
            yield from self._stream(path, source)
        except _Cancelled:
            return Outcome.CANCELLED
        except (IngestError, InputError) as err:
            self._record_failure(key, err.user_message)
            return Outcome.FAILED
        return Outcome.INGESTED

    def _record_failure(self, key: str, message: str) -> None:
        now = self._clock.now()
        found = self._sources.find(self._agent_id, key)
        if found is not None:
            delete_source_passages(self._archival, found)
        self._sources.fail_path(self._agent_id, key, message, now)
        self._state = replace(self._state, errors=(*self._state.errors, (key, message)))

    def _prepare(self, path: Path) -> Source | None:
        """The source to stream into (checkpoint set), or None when there is nothing to do."""
        key, now = str(path), self._clock.now()
        try:
            info = path.stat()
        except OSError as err:
            raise IngestError(f"{path.name} could not be opened ({err.strerror}).") from err
        digest = content_hash(path)
        existing = self._sources.find(self._agent_id, key)
        same = existing is not None and existing.content_hash == digest
        if same and existing is not None and not self._force:
            if existing.status == "done":
                return None
            if existing.status == "ingesting" and existing.generation:
                return self._resume(existing)
        if not self._force and self._deduplicated(key, digest, existing, info.st_mtime):
            return None
        if not self._force and self._copied_from_library(key, digest):
            return None
        if existing is not None:
            delete_source_passages(self._archival, existing)
        return self._sources.begin(
            self._agent_id,
            key,
            content_hash=digest,
            size=info.st_size,
            mtime=info.st_mtime,
            doc_date=document_date(path) or _mtime_date(info.st_mtime),
            now=now,
        )

    def _resume(self, source: Source) -> Source:
        """Delete what a killed run may have written past its checkpoint, and carry on."""
        stray = [source.passage_id(i) for i in range(source.chunks_done, source.chunks_written)]
        if stray and self._archival.delete(self._agent_id, stray):
            self._archival.purge_deleted(self._agent_id)
        return self._sources.resume(source.id, self._clock.now())

    def _deduplicated(self, key: str, digest: str, existing: Source | None, mtime: float) -> bool:
        """True when these bytes are already in the library under another path: a copy is
        skipped; a file moved (its old path gone) keeps its passages and follows the file."""
        twins = [s for s in self._sources.with_hash(self._agent_id, digest) if s.path != key]
        if not twins:
            return False
        if existing is not None:
            delete_source_passages(self._archival, existing)
            self._sources.remove(existing.id)
        moved = next((s for s in twins if not Path(s.path).exists()), None)
        if moved is not None:
            self._sources.relink(moved.id, key, mtime, self._clock.now())
            note = f"Moved from {moved.path}; its passages are kept."
        else:
            note = f"Same content as {twins[0].path}; not added twice."
        self._state = replace(self._state, notes=(*self._state.notes, (key, note)))
        return True

    def _copied_from_library(self, key: str, digest: str) -> bool:
        """Another agent holds these bytes at this path: attach its copy (passages and
        vectors copied, nothing embedded) instead of reading the file again."""
        if not hasattr(self._archival, "copy_passages"):
            return False
        held = [s for s in self._sources.attached(key, digest) if s.agent_id != self._agent_id]
        if not held:
            return False
        archive = cast(SharedArchive, self._archival)
        attach_source(archive, self._sources, held[0], self._agent_id, clock=self._clock)
        note = "Already in the library (another agent's): attached, not embedded again."
        self._state = replace(self._state, notes=(*self._state.notes, (key, note)))
        return True

    def _stream(self, path: Path, source: Source) -> Iterator[IngestProgress]:
        warnings: list[str] = []
        meter = FileMeter(path)
        overlap = min(DEFAULT_OVERLAP_TOKENS, self._max_tokens // 4)
        cut = chunk_sections(
            read_document(path, warnings=warnings),
            max_tokens=self._max_tokens,
            overlap_tokens=overlap,
        )
        chunks = _guarded(path, cut)
        batch: list[Chunk] = []
        total = 0
        for chunk in chunks:
            total = chunk.index + 1
            if chunk.index < source.chunks_done:
                continue
            batch.append(chunk)
            if len(batch) >= self._batch_size:
                yield from self._flush()  # keep the order of writes the order of files
                yield self._write(path, source, batch, meter)
                batch = []
                if self._cancelled():
                    raise _Cancelled
        if warnings:
            notes = tuple((str(path), w) for w in warnings)
            self._state = replace(self._state, notes=self._state.notes + notes)
        if not batch:
            self._sources.finish(source.id, total, warnings, self._clock.now())
            return
        # Reserved before it waits: a kill before the shared write leaves a checkpoint that
        # resumes here and deletes whatever part of the write did land.
        self._sources.reserve(source.id, batch[-1].index + 1, self._clock.now())
        self._eta.progress(meter.fraction(batch[-1]))
        self._pending.add(_Tail(path, source, batch, total, warnings))

    def _flush(self) -> Iterator[IngestProgress]:
        """Write the waiting tails in one insert, then mark each of their files done."""
        tails = self._pending.take()
        if not tails:
            return
        passages = [_passage(t.path, t.source, c) for t in tails for c in t.chunks]
        try:
            self._archival.insert_passages(self._agent_id, passages, source=DOCUMENT_SOURCE)
        except InputError:
            yield from self._flush_one_by_one(tails)
            return
        now = self._clock.now()
        for tail in tails:
            self._sources.finish(tail.source.id, tail.total, tail.warnings, now)
        yield self._update(chunks_done=self._state.chunks_done + len(passages))

    def _flush_one_by_one(self, tails: Sequence[_Tail]) -> Iterator[IngestProgress]:
        """The shared write was refused: write each file alone so only the bad one fails."""
        for tail in tails:
            passages = [_passage(tail.path, tail.source, c) for c in tail.chunks]
            try:
                self._archival.insert_passages(self._agent_id, passages, source=DOCUMENT_SOURCE)
            except InputError as err:
                self._record_failure(str(tail.path), err.user_message)
                continue
            self._sources.finish(tail.source.id, tail.total, tail.warnings, self._clock.now())
            yield self._update(chunks_done=self._state.chunks_done + len(passages))

    def _write(
        self, path: Path, source: Source, batch: Sequence[Chunk], meter: FileMeter
    ) -> IngestProgress:
        end = batch[-1].index + 1
        self._sources.reserve(source.id, end, self._clock.now())
        passages = [_passage(path, source, chunk) for chunk in batch]
        self._archival.insert_passages(self._agent_id, passages, source=DOCUMENT_SOURCE)
        self._sources.checkpoint(source.id, end, self._clock.now())
        self._eta.progress(meter.fraction(batch[-1]))
        return self._update(chunks_done=self._state.chunks_done + len(batch))


def _passage(path: Path, source: Source, chunk: Chunk) -> NewPassage:
    metadata: dict[str, Any] = {
        "path": str(path),
        "char_start": chunk.char_start,
        "char_end": chunk.char_end,
        "heading": chunk.heading,
        "page": chunk.page,
        "source_id": source.id,
        "chunk_index": chunk.index,
    }
    if source.doc_date is not None:
        metadata["doc_date"] = source.doc_date.isoformat()
    return NewPassage(
        text=chunk.text,
        location=f"{path.name}, {chunk.location}",
        metadata=metadata,
        doc_date=source.doc_date,
        id=source.passage_id(chunk.index),
    )


def _guarded(path: Path, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """The chunks, with any reader failure turned into an IngestError about this file (a
    damaged file fails in many libraries' own ways; one bad file must not stop the job)."""
    iterator = iter(chunks)
    while True:
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        except IngestError:
            raise
        except (MemoryError, RecursionError) as err:
            raise IngestError(f"{path.name} is too large or too deeply nested to read.") from err
        except Exception as err:
            raise IngestError(f"{path.name} could not be read ({type(err).__name__}).") from err
        yield chunk


def _mtime_date(mtime: float) -> datetime | None:
    """A document that states no date is dated by its file's modification time."""
    try:
        return datetime.fromtimestamp(mtime, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _canonical(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DOCUMENT_SOURCE",
    "FLUSH_CHUNKS",
    "FLUSH_SECONDS",
    "DocumentArchive",
    "IngestJob",
    "IngestProgress",
    "Outcome",
    "delete_source_passages",
    "remove_source",
]
