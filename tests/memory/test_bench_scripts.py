"""The archival benchmark and retrieval eval scripts run end to end in their tiny modes.

Each runs in a subprocess, as a person or CI would run it, and must end with one JSON line
holding the keys docs/retrieval.md reports, with sane values. The tiny modes use 2k synthetic
passages (benchmark) and the HashEmbedder over ~25 questions (eval): no model is loaded.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_script(name: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) > 3, "a table is printed before the JSON line"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    return result


def test_bench_archival_tiny() -> None:
    result = run_script("bench_archival.py", "--tiny")
    assert result["mode"] == "tiny" and result["queries"] == 20
    for mode in ("vector", "fts", "hybrid", "raw"):
        p50, p95 = result[f"{mode}_p50_ms_2k"], result[f"{mode}_p95_ms_2k"]
        assert 0 < p50 <= p95 < 10_000
    # The store's search against LanceDB's own hybrid query on the same table.
    ratio = result["hybrid_p50_ms_2k"] / result["raw_p50_ms_2k"]
    assert abs(result["hybrid_vs_raw_2k"] - ratio) < 0.02  # p50s are rounded to 0.01 ms
    # No vector index below 50k rows: the search is brute force, so exact.
    assert result["vector_recall10_2k"] == 1.0
    assert result["ivf_pq_build_s_2k"] == 0.0


def test_eval_retrieval_tiny() -> None:
    result = run_script("eval_retrieval.py", "--tiny")
    assert result["embedder"] == "hash"
    assert 15 <= result["questions"] <= 40
    for prefix in ("", "window3_", "chunks_"):
        for method in ("hybrid", "vector", "bm25", "bm25_all", "hybrid2"):
            r5, r10 = result[f"{prefix}{method}_recall5"], result[f"{prefix}{method}_recall10"]
            assert 0.0 <= r5 <= r10 <= 1.0 and not math.isnan(r10)
        assert 0.0 <= result[f"{prefix}best_test_recall10"] <= 1.0
    # Keyword evidence is in the corpus: BM25 and the hybrid must find some of it.
    assert result["bm25_recall10"] > 0.2 and result["hybrid_recall10"] > 0.2
    # The offline fusion is the store's: it reproduces store.search() (ties may differ).
    assert result["store_agrees"] >= 0.8
