#!/usr/bin/env python3
"""The bad-input corpus (tests/data/bad), run through Engram's entry points: a table of input
-> result, then one JSON line.

Every case is generated in a temporary folder, handed to `engram chat --model` (GGUF files)
or `engram ingest` (documents, with a good document in the same job) on one data dir holding
a "keep" agent, and judged: the expected outcome (refused / ingested), one clear sentence,
and everything else intact (the keep agent, database integrity, the input file, the good
document). The full-disk case runs on a 12 MB tmpfs when mounting is allowed (root).

Usage: scripts/bad_inputs.py [--quick] [--only NAME ...] [--keep DIR]
  --quick   HashEmbedder instead of MiniLM (the readers and stores are what is tested)
Last line: JSON with cases, passed, failed, seconds, peak_rss_mb and one entry per case.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.data.bad import runner  # noqa: E402
from tests.data.bad.corpus import CASES  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="HashEmbedder instead of MiniLM")
    parser.add_argument("--only", nargs="*", help="case names (default: all)")
    parser.add_argument("--no-full-disk", action="store_true")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.only or c.name in args.only]
    base = args.keep or Path(tempfile.mkdtemp(prefix="engram-bad-"))
    full_disk = not args.no_full_disk and (not args.only or "full-disk" in args.only)
    start = time.perf_counter()
    embedder = runner.hash_embedder() if args.quick else contextlib.nullcontext()
    with embedder:
        results = runner.run_all(cases, base, full_disk=full_disk)
    seconds = time.perf_counter() - start
    print(f"{'input':<16} {'expect':<9} {'result':<9} {'ok':<3} {'s':>6}  message")
    for r in results:
        mark = "yes" if r.ok else "NO"
        print(f"{r.case:<16} {r.expect:<9} {r.outcome:<9} {mark:<3} {r.seconds:>6.2f}  {r.message}")
        for problem in r.problems:
            print(f"{'':<16} problem: {problem}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    summary = {
        "cases": len(results),
        "passed": sum(r.ok for r in results),
        "failed": [r.case for r in results if not r.ok],
        "embedder": "hash" if args.quick else "minilm",
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak),
        "results": {r.case: [r.outcome, round(r.seconds, 2)] for r in results},
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0 if not summary["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
