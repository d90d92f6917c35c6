"""The document and memory commands: `engram ingest`, `sources`, `attach`, `detach`, `search`
and `import-chat`.

`register(subparsers)` adds them to the main parser; each sets `handler`, a function of the
parsed arguments returning the exit status. They open the data dir's stores once per command
(`search --batch` answers every query with one loaded model and one open index) and report
failures as one sentence through the EngramError the entry point prints. The embedding model
loads only when something must be embedded: listing sources never loads it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from app.core.bootstrap import get_or_create_agent
from app.core.errors import InputError

if TYPE_CHECKING:  # the real imports wait for a handler: `engram --help` stays fast
    from app.ingest.lookup import Query
    from app.ingest.pipeline import IngestJob, IngestProgress
    from app.memory.archival import LanceArchivalStore
    from app.memory.sources_store import Source, SourcesStore
    from app.runtime import Runtime

BAR_WIDTH = 24
REDRAW_SECONDS = 0.1
SEARCH_IN = ("archival", "recall", "all")  # app.ingest.lookup.WHERE, without importing it


def register(subparsers: Any) -> None:
    """Add ingest, sources, search and import-chat to `parser.add_subparsers()`'s result."""
    ingest = subparsers.add_parser("ingest", help="add documents (files or folders) to memory")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    ingest.add_argument("--agent", help="the agent whose memory they join (default: settings)")
    ingest.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    ingest.set_defaults(handler=run_ingest)

    sources = subparsers.add_parser("sources", help="list, re-index or remove documents")
    sources.add_argument("--agent", help="only this agent's documents")
    action = sources.add_mutually_exclusive_group()
    action.add_argument(
        "--remove", type=int, metavar="ID", help="remove a document and its passages"
    )
    action.add_argument("--reindex", type=int, metavar="ID", help="read a document again")
    sources.set_defaults(handler=run_sources)

    for name, verb in (("attach", "give"), ("detach", "take")):
        sub = subparsers.add_parser(name, help=f"{verb} an ingested document to/from an agent")
        sub.add_argument("source", metavar="SOURCE", help="the document's number or path")
        sub.add_argument("--agent", help="which agent (default: settings)")
        sub.set_defaults(handler=run_attach if name == "attach" else run_detach)

    search = subparsers.add_parser("search", help="search an agent's memory")
    search.add_argument("query", nargs="?", help="what to look for")
    search.add_argument("--agent", help="whose memory (default: settings)")
    search.add_argument("--in", dest="where", choices=SEARCH_IN, default="all")
    search.add_argument("--k", type=int, default=5, help="how many results (default 5)")
    search.add_argument("--json", action="store_true", help="one JSON object per result")
    search.add_argument(
        "--batch", type=Path, metavar="FILE", help="JSON queries, one per line ('-': stdin)"
    )
    search.add_argument(
        "--doc-from", metavar="YYYY-MM-DD", help="only documents dated on or after this day"
    )
    search.add_argument(
        "--doc-to", metavar="YYYY-MM-DD", help="only documents dated on or before this day"
    )
    search.set_defaults(handler=run_search)

    chat = subparsers.add_parser("import-chat", help="import a conversation history")
    chat.add_argument("file", type=Path, help="JSON lines transcript or conversations.json")
    chat.add_argument("--agent", help="the agent to import into (default: settings)")
    chat.add_argument("--archival", action="store_true", help="also store it as passages")
    chat.set_defaults(handler=run_import_chat)


@dataclass
class Library:
    """The opened stores of the data dir, for one command."""

    runtime: Runtime
    sources: SourcesStore
    archival: LanceArchivalStore

    def agent_id(self, name: str | None, *, create: bool) -> str:
        """The id of the agent called `name` (default from settings)."""
        wanted = name or self.runtime.settings.default_agent
        if create:
            info, _ = get_or_create_agent(self.runtime.recall, self.runtime.clock, wanted)
            return info.id
        found = self.runtime.recall.get_agent(wanted)
        if found is None:
            raise InputError(f"There is no agent called '{wanted}'.")
        return found.id

    def agent_name(self, agent_id: str) -> str:
        found = self.runtime.recall.get_agent(agent_id)
        return found.name if found else agent_id


@contextmanager
def open_library() -> Iterator[Library]:
    from app.memory.archival import LanceArchivalStore
    from app.memory.sources_store import SourcesStore
    from app.runtime import open_stores

    runtime = open_stores()
    try:
        if not isinstance(runtime.archival, LanceArchivalStore):
            raise TypeError("document commands need the LanceDB archival store")
        sources = SourcesStore(runtime.root / "engram.db")
        try:
            yield Library(runtime, sources, runtime.archival)
        finally:
            sources.close()
    finally:
        runtime.close()


# ---- ingest ----------------------------------------------------------------------------------
class ProgressBar:
    """One redrawn line on a terminal; elsewhere only failures as they happen."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._drawn = 0.0
        self._errors = 0

    def show(self, progress: IngestProgress) -> None:
        for path, message in progress.errors[self._errors :]:
            self._clear()
            print(f"skipped {path}: {message}", file=self._stream)
        self._errors = len(progress.errors)
        now = time.monotonic()
        if not self._tty or (now - self._drawn < REDRAW_SECONDS and not progress.finished):
            return
        self._drawn = now
        total = max(progress.files_total, 1)
        filled = BAR_WIDTH * progress.files_done // total
        eta = "" if progress.eta_seconds is None else f" ETA {_duration(progress.eta_seconds)}"
        name = Path(progress.current_file).name
        line = (
            f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {progress.files_done}/"
            f"{progress.files_total} files, {progress.chunks_done} chunks{eta} {name}"
        )
        self._stream.write("\r\x1b[K" + line[:200])
        self._stream.flush()

    def close(self) -> None:
        self._clear()

    def _clear(self) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K")
            self._stream.flush()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _run_job(job: IngestJob) -> IngestProgress:
    bar = ProgressBar(sys.stderr)
    last: IngestProgress | None = None
    try:
        for last in job.run():
            bar.show(last)
    except KeyboardInterrupt:
        bar.close()
        print("Stopped. Run the same command again to carry on where it stopped.")
        raise
    bar.close()
    assert last is not None  # run() always yields at least once
    return last


def _summary(last: IngestProgress, agent: str) -> int:
    added = last.files_done - last.files_skipped - len(last.errors)
    print(
        f"Ingested {added} file(s), {last.chunks_done} chunk(s), into agent '{agent}'; "
        f"{last.files_skipped} unchanged, {len(last.errors)} failed."
    )
    for path, note in last.notes:
        print(f"  note: {path}: {note}")
    for path, message in last.errors:
        print(f"  failed: {path}: {message}")
    return 1 if last.errors else 0


def run_ingest(args: argparse.Namespace) -> int:
    from app.ingest.pipeline import IngestJob

    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise InputError(f"Not found: {', '.join(missing)}.")
    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=True)
        job = IngestJob(args.paths, agent_id, lib.archival, lib.sources, batch_size=args.batch_size)
        return _summary(_run_job(job), lib.agent_name(agent_id))


# ---- sources ---------------------------------------------------------------------------------
def run_sources(args: argparse.Namespace) -> int:
    from app.ingest.pipeline import IngestJob, remove_source

    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=False) if args.agent else None
        if args.remove is not None:
            source = _owned(lib, args.remove, agent_id)
            remove_source(lib.archival, lib.sources, source.id)
            print(f"Removed #{source.id} {source.path} and its passages.")
            return 0
        if args.reindex is not None:
            source = _owned(lib, args.reindex, agent_id)
            if not Path(source.path).exists():
                raise InputError(
                    f"{source.path} no longer exists.",
                    hint=f"Remove it with: engram sources --remove {source.id}",
                )
            job = IngestJob(
                [Path(source.path)], source.agent_id, lib.archival, lib.sources, force=True
            )
            return _summary(_run_job(job), lib.agent_name(source.agent_id))
        _print_sources(lib, lib.sources.list(agent_id), show_agent=agent_id is None)
        return 0


def run_attach(args: argparse.Namespace) -> int:
    """Attach a document ingested for one agent to another: passages copied, not embedded."""
    from app.ingest.library import attach_source, find_source

    with open_library() as lib:
        source = find_source(lib.sources, args.source)
        agent_id = lib.agent_id(args.agent, create=True)
        attached = attach_source(lib.archival, lib.sources, source, agent_id)
        print(
            f"Attached {attached.path} to agent '{lib.agent_name(agent_id)}' as "
            f"#{attached.id} ({attached.chunks_done} passages, nothing embedded again)."
        )
        return 0


def run_detach(args: argparse.Namespace) -> int:
    """Take a document away from one agent; other agents keep their copies."""
    from app.ingest.library import detach_source, find_source

    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=False)
        source = find_source(lib.sources, args.source, agent_id)
        detach_source(lib.archival, lib.sources, source)
        print(f"Detached {source.path} from agent '{lib.agent_name(agent_id)}'.")
        return 0


def _owned(lib: Library, source_id: int, agent_id: str | None) -> Source:
    source = lib.sources.require(source_id)
    if agent_id is not None and source.agent_id != agent_id:
        raise InputError(f"Document #{source_id} belongs to another agent.")
    return source


def _print_sources(lib: Library, sources: list[Source], *, show_agent: bool) -> None:
    if not sources:
        print("No documents yet. Add some with: engram ingest PATH")
        return
    names = {s.agent_id: lib.agent_name(s.agent_id) for s in sources}
    for s in sources:
        chunks = f"{s.chunks_done}" + (f"/{s.chunks_total}" if s.chunks_total else "")
        agent = f"{names[s.agent_id]:<12} " if show_agent else ""
        when = f"{s.updated_at.astimezone():%Y-%m-%d %H:%M}"
        print(f"{s.id:>4}  {agent}{s.status:<9} {chunks:>7} chunks  {when}  {s.path}")
        if s.error:
            print(f"      {s.error}")


# ---- search ----------------------------------------------------------------------------------
def run_search(args: argparse.Namespace) -> int:
    from app.ingest import lookup

    if args.batch is None and not args.query:
        raise InputError("Give a query, or --batch FILE with one JSON query per line.")
    if args.k < 1:
        raise InputError("--k must be at least 1.")
    try:
        doc_start = lookup.parse_day(args.doc_from) if args.doc_from else None
        doc_end = lookup.parse_day(args.doc_to, end=True) if args.doc_to else None
    except ValueError as err:
        raise InputError(f"{err}.") from err
    default = lookup.Query(args.query or "", args.k, args.where, doc_start, doc_end)
    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=False)
        if args.batch is not None:
            return _search_batch(lib, agent_id, args.batch, default)
        hits = lookup.search(default, agent_id, lib.archival, lib.runtime.recall)
        for rank, hit in enumerate(hits, start=1):
            if args.json:
                print(json.dumps(hit, ensure_ascii=False))
            else:
                print(f"{rank}. [{hit['store']}] {hit['location']}  ({hit['score']:.4f})")
                print(f"   {' '.join(hit['text'].split())[:240]}")
        if not hits and not args.json:
            print("Nothing found.")
        return 0


def _search_batch(lib: Library, agent_id: str, path: Path, default: Query) -> int:
    from app.ingest import lookup

    status = 0
    with _open_input(path) as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                query = lookup.parse_query(json.loads(line), default)
            except ValueError as err:  # JSONDecodeError is a ValueError
                print(f"engram: line {number}: {err}", file=sys.stderr)
                print("[]", flush=True)
                status = 1
                continue
            hits = lookup.search(query, agent_id, lib.archival, lib.runtime.recall)
            print(json.dumps(hits, ensure_ascii=False), flush=True)
    return status


@contextmanager
def _open_input(path: Path) -> Iterator[IO[str]]:
    if str(path) == "-":
        yield sys.stdin
        return
    try:
        with path.open(encoding="utf-8") as stream:
            yield stream
    except FileNotFoundError as err:
        raise InputError(f"{path} was not found.") from err


# ---- import-chat -----------------------------------------------------------------------------
def run_import_chat(args: argparse.Namespace) -> int:
    from app.ingest.chat_import import import_chat

    with open_library() as lib:
        agent_id = lib.agent_id(args.agent, create=True)
        result = import_chat(
            args.file,
            agent_id,
            lib.runtime.recall,
            known_keys=lib.sources.imported_keys(agent_id),
            archival=lib.archival if args.archival else None,
            clock=lib.runtime.clock,
        )
        print(
            f"Imported {result.imported} message(s) into agent '{lib.agent_name(agent_id)}' "
            f"({result.duplicates} already there, {result.ignored} left out); "
            f"{result.passages} archival passage(s)."
        )
        if result.first_bad_line is not None:
            print(f"  note: line {result.first_bad_line} (and maybe others) is not JSON.")
        return 0
