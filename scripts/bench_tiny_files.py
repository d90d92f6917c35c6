#!/usr/bin/env python3
"""Ingest throughput on a folder of many one-line notes (issue #8's "10,000 tiny files").

Real LanceDB and engram.db in a temporary folder, the HashEmbedder (the embedding model is not
what is measured: the per-file store work is). Prints files/s, chunks and table versions
(fragments written), then one JSON line.

Usage: scripts/bench_tiny_files.py [--files N] [--batch-size N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.ingest.pipeline import IngestJob  # noqa: E402
from app.memory.archival import LanceArchivalStore  # noqa: E402
from app.memory.embedder import HashEmbedder  # noqa: E402
from app.memory.sources_store import SourcesStore  # noqa: E402
from app.memory.sqlite_store import SqliteStore  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=None, help="IngestJob batch_size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="engram-tiny-") as tmp:
        base = Path(tmp)
        inbox = base / "inbox"
        inbox.mkdir()
        for i in range(args.files):
            (inbox / f"note-{i:05d}.txt").write_text(f"Note {i}: buy stamp {i}.\n", "utf-8")
        recall = SqliteStore(base / "engram.db")
        agent = recall.create_agent("bench", [], datetime.now(UTC)).id
        sources = SourcesStore(base / "engram.db")
        archival = LanceArchivalStore(base / "archival", HashEmbedder(384))
        extra = {} if args.batch_size is None else {"batch_size": args.batch_size}
        start = time.perf_counter()
        last = None
        for progress in IngestJob([inbox], agent, archival, sources, **extra).run():
            last = progress
        seconds = time.perf_counter() - start
        assert last is not None and last.finished and not last.errors, last
        stored = archival.count(agent)
        summary = {
            "files": args.files,
            "chunks": stored,
            "seconds": round(seconds, 2),
            "files_per_s": round(args.files / seconds, 1),
        }
        print(json.dumps(summary))
        return 0 if stored == args.files else 1


if __name__ == "__main__":
    sys.exit(main())
