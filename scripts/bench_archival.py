#!/usr/bin/env python3
"""Archival search at scale: latency and vector recall of LanceArchivalStore at 10k-1M passages.

Synthetic passages stand in for real ones: 384-d unit vectors mixing one of 512 topic
directions, one of 64 subtopic directions and noise with per-passage weights (cosine about
0.5 within a subtopic, 0.3 within a topic, 0 otherwise), and texts drawn from a
Zipf-distributed vocabulary of 30k words plus a 200-word lexicon per topic, so BM25 has long
posting lists to walk. Rows are written in bulk (batches of 100k) with the store's own schema,
then the directory is opened with LanceArchivalStore, which builds the FTS index and the scalar
(BITMAP agent_id / deleted, BTREE id) indexes on open (`fts_index_s`: all four), and
`maybe_build_vector_index()` builds IVF_PQ exactly as the app does (above 50k rows): both
builds are timed. Queries go through the real search path:

- vector: `store.search()` with a wordless query, so only the vector list runs (50 candidates,
  nprobes 20 / refine 10 once the index exists; the bench's one agent owns every row, so the
  store runs it unfiltered, see POSTFILTER_MIN_SHARE) and its top 10 are compared with the
  exact top 10 (numpy, brute force over the same vectors) for recall@10;
- fts: one BM25 "any word" list, built with the store's own helpers (`_match`, `where_clause`);
- hybrid: `store.search()` with words: vector + BM25-any + BM25-all, fused by RRF;
- raw: LanceDB's own hybrid query (vector + BM25 with its RRFReranker, the same prefilter and
  nprobes / refine, one page of 10 with the passage columns): the library baseline the
  store's three-list search is compared with (`hybrid_vs_raw_{size}` = hybrid p50 / raw p50).
Query embedding is not timed (the fake embedder hands back a prepared vector; MiniLM adds
~7 ms). A sweep of nprobes x refine_factor on the same queries shows the recall/latency trade.

Usage: scripts/bench_archival.py [--quick | --tiny] [--dir DIR [--keep [--reuse]]]
                                 [--queries N] [--seed S]
  default 10k, 100k, 1M; --quick stops at 100k; --tiny is 2k rows and 20 queries (tests);
  --keep leaves the tables in DIR, --reuse measures them again without rebuilding.
Last line: one JSON object (keys like vector_p50_ms_1m, hybrid_p95_ms_100k, vector_recall10_1m).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import lancedb  # noqa: E402
from lancedb.query import FullTextOperator, LanceVectorQueryBuilder  # noqa: E402
from lancedb.rerankers import RRFReranker  # noqa: E402

from app.memory.archival import (  # noqa: E402
    _PASSAGE_COLUMNS,
    TABLE,
    LanceArchivalStore,
    _match,
    archival_schema,
    fts_terms,
    where_clause,
)

DIM = 384
AGENT = "bench"
BATCH = 100_000
TOPICS, SUBTOPICS = 512, 64
VOCAB, LEXICON = 30_000, 200
SIZES = {
    "full": (10_000, 100_000, 1_000_000),
    "quick": (10_000, 100_000),
    "tiny": (2_000,),
}
SWEEP = ((10, 10), (20, 1), (20, 5), (20, 10), (20, 30), (40, 10), (80, 10))
WARMUP = 10
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "or")]


def label(rows: int) -> str:
    return f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"{rows // 1000}k"


# ---- synthetic corpus ---------------------------------------------------------------------
@dataclass
class Corpus:
    """Cluster centres, vocabulary and queries; passages are generated batch by batch."""

    seed: int
    topics: np.ndarray = field(init=False)
    subtopics: np.ndarray = field(init=False)
    vocab: np.ndarray = field(init=False)
    zipf: np.ndarray = field(init=False)
    lexicons: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.topics = _unit(rng.standard_normal((TOPICS, DIM)))
        self.subtopics = _unit(rng.standard_normal((TOPICS, SUBTOPICS, DIM)))
        self.vocab = np.array(_words(rng, VOCAB), dtype=object)
        ranks = np.arange(1, VOCAB + 1, dtype=np.float64)
        self.zipf = np.cumsum(1.0 / ranks) / np.sum(1.0 / ranks)
        # Topic words come from the rarer 80% of the vocabulary.
        self.lexicons = rng.integers(VOCAB // 5, VOCAB, size=(TOPICS, LEXICON))

    def vectors(self, rng: np.random.Generator, topic: np.ndarray, sub: np.ndarray) -> np.ndarray:
        n = len(topic)
        noise = _unit(rng.standard_normal((n, DIM)))
        a, b, c = (
            rng.uniform(lo, hi, size=(n, 1)) for lo, hi in ((0.4, 0.7), (0.3, 0.6), (0.5, 0.8))
        )
        mixed = a * self.topics[topic] + b * self.subtopics[topic, sub] + c * noise
        return _unit(mixed).astype(np.float32)

    def texts(self, rng: np.random.Generator, topic: np.ndarray) -> list[str]:
        n, width = len(topic), 60
        common = np.searchsorted(self.zipf, rng.random((n, width)))
        lexical = self.lexicons[topic[:, None], rng.integers(0, LEXICON, size=(n, width))]
        words = np.where(rng.random((n, width)) < 0.4, lexical, common)
        lengths = rng.integers(15, 60, size=n)
        picked = self.vocab[words]
        return [" ".join(row[:k]) for row, k in zip(picked, lengths, strict=True)]

    def batch(self, start: int, n: int) -> tuple[list[str], np.ndarray]:
        rng = np.random.default_rng((self.seed, start))
        topic = rng.integers(0, TOPICS, size=n)
        sub = rng.integers(0, SUBTOPICS, size=n)
        return self.texts(rng, topic), self.vectors(rng, topic, sub)

    def queries(self, n: int) -> tuple[list[str], np.ndarray]:
        """Query vectors from the same model, and 2-4 words a person might type: mostly words
        of the query's topic, sometimes a common word."""
        rng = np.random.default_rng((self.seed, 10**9))
        topic = rng.integers(0, TOPICS, size=n)
        vectors = self.vectors(rng, topic, rng.integers(0, SUBTOPICS, size=n))
        texts = []
        for t in topic:
            k = int(rng.integers(2, 5))
            words = list(self.vocab[self.lexicons[t, rng.integers(0, LEXICON, size=k)]])
            if rng.random() < 0.3:
                words[-1] = self.vocab[int(np.searchsorted(self.zipf, rng.random() * 0.5))]
            texts.append(" ".join(words))
        return texts, vectors


def _unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True))


def _words(rng: np.random.Generator, n: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < n:
        k = int(rng.integers(2, 5))
        seen.setdefault("".join(rng.choice(SYLLABLES, size=k)), None)
    return list(seen)


# ---- building -----------------------------------------------------------------------------
def arrow_rows(texts: Sequence[str], vectors: np.ndarray, start: int) -> pa.Table:
    n = len(texts)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    columns: dict[str, Any] = {
        "id": [f"p{start + i:09d}" for i in range(n)],
        "agent_id": [AGENT] * n,
        "text": list(texts),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel(), pa.float32()), DIM),
        "created_at": [t0 + timedelta(minutes=start + i) for i in range(n)],
        "doc_date": [None] * n,
        "source": ["bench"] * n,
        "tags": [[] for _ in range(n)],
        "location": [""] * n,
        "metadata": ["{}"] * n,
        "deleted": [False] * n,
    }
    return pa.table(columns, schema=archival_schema(DIM))


class ExactTopK:
    """Running exact top-k (cosine = dot product on unit vectors) of the queries over batches."""

    def __init__(self, queries: np.ndarray, k: int = 10) -> None:
        self.q, self.k = queries, k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.ids = np.zeros((len(queries), 0), dtype=np.int64)

    def add(self, vectors: np.ndarray, row_ids: np.ndarray) -> None:
        scores = np.concatenate([self.scores, self.q @ vectors.T], axis=1)
        fresh = np.broadcast_to(row_ids, (len(self.q), len(vectors)))
        ids = np.concatenate([self.ids, fresh], axis=1)
        keep = np.argsort(-scores, axis=1)[:, : self.k]
        self.scores = np.take_along_axis(scores, keep, axis=1)
        self.ids = np.take_along_axis(ids, keep, axis=1)

    def id_sets(self) -> list[set[str]]:
        return [{f"p{i:09d}" for i in row} for row in self.ids]


class QueryEmbedder:
    """The store's embedder for the benchmark: hands back the vector set for the next query."""

    dim = DIM

    def __init__(self) -> None:
        self.next = np.zeros(DIM, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("the benchmark writes its rows directly")

    def embed_query(self, text: str) -> np.ndarray:
        return self.next


def build(path: Path, corpus: Corpus, rows: int, exact: ExactTopK) -> dict[str, float]:
    """Write `rows` passages in batches; returns the seconds spent generating and writing."""
    db = lancedb.connect(str(path))
    table = db.create_table(TABLE, schema=archival_schema(DIM))
    made = wrote = 0.0
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        t = time.perf_counter()
        texts, vectors = corpus.batch(start, n)
        exact.add(vectors, np.arange(start, start + n))
        data = arrow_rows(texts, vectors, start)
        made += time.perf_counter() - t
        t = time.perf_counter()
        table.add(data)
        wrote += time.perf_counter() - t
    return {"generate_s": made, "write_s": wrote}


# ---- measuring ----------------------------------------------------------------------------
def timed(calls: Iterator[Callable[[], Any]]) -> tuple[list[float], list[Any]]:
    times, results = [], []
    for call in calls:
        t = time.perf_counter()
        results.append(call())
        times.append((time.perf_counter() - t) * 1000)
    return times, results


def percentiles(times_ms: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(times_ms[WARMUP:] if len(times_ms) > 2 * WARMUP else times_ms)
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


def recall(found: Sequence[Sequence[str]], exact: Sequence[set[str]]) -> float:
    hits = [len(set(f[:10]) & e) / len(e) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits))


def run_modes(
    store: LanceArchivalStore, emb: QueryEmbedder, texts: list[str], vecs: np.ndarray
) -> dict[str, Any]:
    """Time vector, fts and hybrid over the queries (first WARMUP runs not counted)."""
    order = list(range(WARMUP)) + list(range(len(texts)))

    def via_store(i: int, words: str) -> Callable[[], list[str]]:
        def call() -> list[str]:
            emb.next = vecs[i]
            return [p.id for p in store.search(AGENT, words, page_size=10).items]

        return call

    def fts(i: int) -> Callable[[], Any]:
        match = _match(fts_terms(texts[i]), FullTextOperator.OR)
        where = where_clause(AGENT)
        return lambda: (
            store._table.search(match, query_type="fts")
            .where(where, prefilter=True)
            .select([*_PASSAGE_COLUMNS, "_score"])
            .limit(store._candidates)
            .to_arrow()
        )

    def raw(i: int) -> Callable[[], Any]:
        where = where_clause(AGENT)
        query: Any = store._table.search(query_type="hybrid")
        query = query.vector(vecs[i]).text(fts_terms(texts[i]))
        query = query.distance_type("cosine")
        if store.has_vector_index:
            query = query.nprobes(20).refine_factor(10)
        query = query.where(where, prefilter=True).rerank(RRFReranker())
        return lambda: query.select(_PASSAGE_COLUMNS).limit(10).to_arrow()

    out: dict[str, Any] = {}
    v_times, v_found = timed(via_store(i, "?") for i in order)
    out["vector"] = (*percentiles(v_times), v_found[WARMUP:])
    f_times, _ = timed(fts(i) for i in order)
    out["fts"] = percentiles(f_times)
    h_times, _ = timed(via_store(i, texts[i]) for i in order)
    out["hybrid"] = percentiles(h_times)
    r_times, _ = timed(raw(i) for i in order)
    out["raw"] = percentiles(r_times)
    return out


def sweep(
    store: LanceArchivalStore, vecs: np.ndarray, exact: list[set[str]]
) -> list[dict[str, Any]]:
    """Vector recall@10 and latency for other nprobes / refine_factor on the indexed table."""
    rows = []
    where = where_clause(AGENT)
    for nprobes, refine in SWEEP:

        def call(i: int, nprobes: int = nprobes, refine: int = refine) -> list[str]:
            q = vector_query(store, vecs[i]).nprobes(nprobes)
            if refine > 1:
                q = q.refine_factor(refine)
            hits = q.where(where, prefilter=True).select(["id", "_distance"])
            ids: list[str] = hits.limit(store._candidates).to_arrow()["id"].to_pylist()
            return ids

        order = list(range(WARMUP)) + list(range(len(vecs)))
        times, found = timed(functools.partial(call, i) for i in order)
        p50, p95 = percentiles(times)
        r = recall([f[:10] for f in found[WARMUP:]], exact)
        rows.append(
            {"nprobes": nprobes, "refine": refine, "p50_ms": p50, "p95_ms": p95, "recall10": r}
        )
    return rows


def vector_query(store: LanceArchivalStore, vector: np.ndarray) -> LanceVectorQueryBuilder:
    query = store._table.search(vector, vector_column_name="vector")
    return cast(LanceVectorQueryBuilder, query).distance_type("cosine")


def index_partitions(store: LanceArchivalStore, vector: np.ndarray) -> int | None:
    """The IVF partition count (lancedb 0.40's index stats do not say; its query plan does)."""
    if not store.has_vector_index:
        return None
    plan = vector_query(store, vector).select(["id", "_distance"]).limit(1).analyze_plan()
    found = re.search(r"partitions_ranked=(\d+)", plan)
    return int(found.group(1)) if found else None


def exact_from_table(path: Path, rows: int, exact: ExactTopK) -> bool:
    """Fill `exact` from a table built before (--reuse); False if there is none of that size."""
    try:
        table = lancedb.connect(str(path)).open_table(TABLE)
    except (ValueError, FileNotFoundError):
        return False
    if table.count_rows() != rows:
        return False
    for start in range(0, rows, BATCH):
        where = f"id >= 'p{start:09d}' AND id < 'p{start + BATCH:09d}'"
        got = table.search().where(where).select(["id", "vector"]).limit(BATCH).to_arrow()
        vectors = np.asarray(got["vector"].combine_chunks().values).reshape(-1, DIM)
        exact.add(vectors, np.array([int(i[1:]) for i in got["id"].to_pylist()]))
    return True


def bench_size(
    base: Path, corpus: Corpus, rows: int, n_queries: int, reuse: bool = False
) -> dict[str, Any]:
    path = base / f"archival-{label(rows)}"
    q_texts, q_vecs = corpus.queries(n_queries)
    exact = ExactTopK(q_vecs)
    result: dict[str, Any] = {"rows": rows, "generate_s": 0.0, "write_s": 0.0, "reused": True}
    if not (reuse and exact_from_table(path, rows, exact)):
        shutil.rmtree(path, ignore_errors=True)
        exact = ExactTopK(q_vecs)
        result |= {"reused": False, **build(path, corpus, rows, exact)}
    emb = QueryEmbedder()
    t = time.perf_counter()
    store = LanceArchivalStore(path, emb)  # builds the FTS index on open
    result["fts_index_s"] = time.perf_counter() - t
    t = time.perf_counter()
    result["vector_index"] = store.maybe_build_vector_index()
    result["ivf_pq_s"] = time.perf_counter() - t if result["vector_index"] else 0.0
    result["partitions"] = index_partitions(store, q_vecs[0])
    modes = run_modes(store, emb, q_texts, q_vecs)
    truth = exact.id_sets()
    result["vector"] = modes["vector"][:2]
    result["recall10"] = recall(modes["vector"][2], truth)
    result["fts"], result["hybrid"], result["raw"] = modes["fts"], modes["hybrid"], modes["raw"]
    result["sweep"] = sweep(store, q_vecs, truth) if result["vector_index"] else []
    return result


# ---- reporting ----------------------------------------------------------------------------
def print_tables(results: list[dict[str, Any]]) -> None:
    print(
        f"{'rows':>6} {'generate s':>10} {'write s':>8} {'indexes s':>11} "
        f"{'IVF_PQ s':>8} {'partitions':>10}"
    )
    for r in results:
        parts = r["partitions"] if r["partitions"] is not None else "-"
        reused = "  (reused: no build)" if r["reused"] else ""
        print(
            f"{label(r['rows']):>6} {r['generate_s']:>10.1f} {r['write_s']:>8.1f} "
            f"{r['fts_index_s']:>11.1f} {r['ivf_pq_s']:>8.1f} {parts!s:>10}{reused}"
        )
    print()
    print(f"{'rows':>6} {'search':>7} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>10}")
    for r in results:
        for mode in ("vector", "fts", "hybrid", "raw"):
            p50, p95 = r[mode]
            rec = f"{r['recall10']:.3f}" if mode == "vector" else ""
            print(f"{label(r['rows']):>6} {mode:>7} {p50:>8.1f} {p95:>8.1f} {rec:>10}")
    for r in results:
        if r["sweep"]:
            print(f"\nvector search at {label(r['rows'])}, limit 50 (store: nprobes 20, refine 10)")
            print(f"{'nprobes':>8} {'refine':>7} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>10}")
            for s in r["sweep"]:
                print(
                    f"{s['nprobes']:>8} {s['refine']:>7} {s['p50_ms']:>8.1f} "
                    f"{s['p95_ms']:>8.1f} {s['recall10']:>10.3f}"
                )


def summary(
    results: list[dict[str, Any]], mode: str, n_queries: int, seconds: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "queries": n_queries}
    for r in results:
        size = label(r["rows"])
        for m in ("vector", "fts", "hybrid", "raw"):
            out[f"{m}_p50_ms_{size}"] = round(r[m][0], 2)
            out[f"{m}_p95_ms_{size}"] = round(r[m][1], 2)
        out[f"hybrid_vs_raw_{size}"] = round(r["hybrid"][0] / r["raw"][0], 2)
        out[f"vector_recall10_{size}"] = round(r["recall10"], 4)
        out[f"fts_index_s_{size}"] = round(r["fts_index_s"], 1)
        out[f"ivf_pq_build_s_{size}"] = round(r["ivf_pq_s"], 1)
        out[f"write_s_{size}"] = round(r["write_s"], 1)
        if r["sweep"]:
            out[f"sweep_{size}"] = [{k: round(v, 4) for k, v in s.items()} for s in r["sweep"]]
    out["seconds"] = round(seconds, 1)
    out["load_avg_1m"] = round(os.getloadavg()[0], 2)  # the machine is shared: context
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10k and 100k only")
    size.add_argument("--tiny", action="store_true", help="2k rows, 20 queries (tests)")
    parser.add_argument("--dir", type=Path, help="where to build the tables (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the tables in --dir")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: measure tables kept by an earlier run, skip building",
    )
    parser.add_argument("--queries", type=int, help="queries per mode (default 100, tiny 20)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    n_queries = args.queries or (20 if args.tiny else 100)
    started = time.perf_counter()
    corpus = Corpus(args.seed)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-archival-", dir=args.dir) as tmp:
        base = args.dir if args.keep and args.dir else Path(tmp)
        for rows in SIZES[mode]:
            t = time.perf_counter()
            results.append(bench_size(base, corpus, rows, n_queries, args.reuse))
            print(f"# {label(rows)} done in {time.perf_counter() - t:.0f} s", flush=True)
            if base == Path(tmp):
                shutil.rmtree(base / f"archival-{label(rows)}", ignore_errors=True)
    print_tables(results)
    print(json.dumps(summary(results, mode, n_queries, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
