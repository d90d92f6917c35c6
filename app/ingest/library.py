"""The document library across agents: attach an ingested document to another agent, detach it.

A document is read and embedded once. Attaching it to another agent copies its passages,
vectors included, into that agent's rows of the archival table under a `sources` row of its
own (same path and bytes, a new generation). So every agent keeps one plain prefilter
(`agent_id = …`, served by a BITMAP index) and its own soft deletes, and detaching is just
removing that agent's source. The copy is checkpointed like an ingest (reserve, write,
checkpoint), so a killed attach resumes, by attaching again or by ingesting the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from app.core.clock import SystemClock
from app.core.errors import InputError
from app.core.protocols import Clock
from app.memory.archival import NewPassage
from app.memory.sources_store import Source, SourcesStore

COPY_BATCH = 500  # passages per copy (one id-indexed read and one write)
DELETE_BATCH = 500  # ids per soft-delete statement


class DocumentArchive(Protocol):
    """What an ingest needs of archival memory (LanceArchivalStore provides it)."""

    def insert_passages(
        self,
        agent_id: str,
        passages: Sequence[NewPassage],
        *,
        source: str = ...,
        tags: Sequence[str] = ...,
    ) -> list[str]: ...

    def delete(self, agent_id: str, passage_ids: Sequence[str]) -> int: ...

    def purge_deleted(self, agent_id: str) -> int: ...


def delete_source_passages(archival: DocumentArchive, source: Source) -> int:
    """Soft-delete every passage the source's generation may have written, then purge."""
    ids = source.stored_ids()
    deleted = sum(
        archival.delete(source.agent_id, ids[i : i + DELETE_BATCH])
        for i in range(0, len(ids), DELETE_BATCH)
    )
    if deleted:
        archival.purge_deleted(source.agent_id)
    return deleted


def remove_source(archival: DocumentArchive, sources: SourcesStore, source_id: int) -> Source:
    """Delete a source's passages, then the source itself."""
    source = sources.require(source_id)
    delete_source_passages(archival, source)
    sources.remove(source.id)
    return source


class SharedArchive(DocumentArchive, Protocol):
    """An archive that can copy passages between agents (LanceArchivalStore can)."""

    def copy_passages(
        self,
        agent_id: str,
        id_map: Mapping[str, str],
        to_agent: str,
        *,
        metadata: Mapping[str, Any] | None = ...,
    ) -> int: ...


def find_source(sources: SourcesStore, ref: str, agent_id: str | None = None) -> Source:
    """A source by its number (`12`) or its file's path; with `agent_id`, that agent's copy of
    the file."""
    if ref.strip().isdigit():
        found = sources.require(int(ref))
        if agent_id is None or found.agent_id == agent_id:
            return found
        path = found.path
    else:
        path = str(Path(ref).expanduser().resolve())
    candidates = [s for s in sources.list(agent_id) if s.path == path]
    done = [s for s in candidates if s.status == "done"]
    if not (done or candidates):
        whose = " for that agent" if agent_id else ""
        raise InputError(f"There is no document {ref}{whose} in the library.")
    return (done or candidates)[0]


def attach_source(
    archival: SharedArchive,
    sources: SourcesStore,
    source: Source,
    agent_id: str,
    *,
    clock: Clock | None = None,
    batch: int = COPY_BATCH,
) -> Source:
    """Give `agent_id` the document `source` without embedding it again; returns the agent's
    own source row. Attaching twice changes nothing; a killed attach carries on."""
    clock = clock or SystemClock()
    if source.status != "done":
        raise InputError(
            f"Document #{source.id} is not fully ingested ({source.status}).",
            hint=f"Ingest it first: engram ingest {source.path}",
        )
    if source.agent_id == agent_id:
        return source
    target = _target(archival, sources, source, agent_id, clock)
    if target.status == "done":
        return target
    total = source.chunks_total or 0
    for start in range(target.chunks_done, total, batch):
        end = min(start + batch, total)
        sources.reserve(target.id, end, clock.now())
        id_map = {source.passage_id(i): target.passage_id(i) for i in range(start, end)}
        archival.copy_passages(source.agent_id, id_map, agent_id, metadata={"source_id": target.id})
        sources.checkpoint(target.id, end, clock.now())
    return sources.finish(target.id, total, source.warnings, clock.now())


def _target(
    archival: SharedArchive, sources: SourcesStore, source: Source, agent_id: str, clock: Clock
) -> Source:
    """The agent's row to copy into: as it is when done or half-copied with the same bytes,
    else fresh (an older version's passages deleted first)."""
    existing = sources.find(agent_id, source.path)
    same = existing is not None and existing.content_hash == source.content_hash
    if existing is not None and same and existing.status == "done":
        return existing
    if existing is not None and same and existing.status == "ingesting" and existing.generation:
        stray = [
            existing.passage_id(i) for i in range(existing.chunks_done, existing.chunks_written)
        ]
        if stray and archival.delete(agent_id, stray):
            archival.purge_deleted(agent_id)
        return sources.resume(existing.id, clock.now())
    if existing is not None:
        delete_source_passages(archival, existing)
    return sources.begin(
        agent_id,
        source.path,
        content_hash=source.content_hash,
        size=source.size,
        mtime=source.mtime,
        doc_date=source.doc_date,
        now=clock.now(),
    )


def detach_source(archival: DocumentArchive, sources: SourcesStore, source: Source) -> Source:
    """Take the document away from its agent (its copies of the passages go); other agents it
    is attached to keep theirs."""
    return remove_source(archival, sources, source.id)


def attached_agents(sources: SourcesStore, source: Source) -> Sequence[str]:
    """The ids of the agents holding this document (these bytes at this path), oldest first."""
    return [s.agent_id for s in sources.attached(source.path, source.content_hash)]


__all__ = [
    "COPY_BATCH",
    "DocumentArchive",
    "SharedArchive",
    "attach_source",
    "attached_agents",
    "delete_source_passages",
    "detach_source",
    "find_source",
    "remove_source",
]
