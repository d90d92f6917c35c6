"""LanceArchivalStore on a real LanceDB directory: hybrid search, paging, filters, deletes, files.

Most tests use the HashEmbedder fake; the ones marked `embed` use the real MiniLM model.
"""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import lancedb
import numpy as np
import pytest

from app.core.errors import InputError, StoreError
from app.core.protocols import ArchivalFilter, ArchivalStore
from app.memory import archival as archival_module
from app.memory.archival import LanceArchivalStore, fts_terms, rrf_fuse, where_clause
from app.memory.embedder import HashEmbedder, MiniLMEmbedder

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "archival"


@pytest.fixture
def store(store_path: Path) -> LanceArchivalStore:
    return LanceArchivalStore(store_path, HashEmbedder())


def test_satisfies_the_protocol(store: LanceArchivalStore) -> None:
    as_protocol: ArchivalStore = store
    assert as_protocol.count("nobody") == 0


def test_insert_and_count(store: LanceArchivalStore) -> None:
    ids = store.insert("a", ["The cat sat on the mat.", "Dogs bark at night."], created_at=T0)
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(uuid.UUID(hex=i).version == 4 and len(i) == 32 for i in ids)
    assert store.count("a") == 2
    assert store.insert("a", []) == []
    page = store.search("a", "cat mat")
    assert page.items[0].id == ids[0]
    assert page.items[0].created_at == T0
    assert page.items[0].source == "agent" and page.items[0].tags == ()


@pytest.mark.parametrize("bad", [[""], ["   \n\t"], ["fine", ""]])
def test_empty_text_is_an_input_error_and_nothing_is_stored(
    store: LanceArchivalStore, bad: list[str]
) -> None:
    with pytest.raises(InputError, match="empty"):
        store.insert("a", bad)
    assert store.count("a") == 0


def test_fields_round_trip(store: LanceArchivalStore) -> None:
    naive = datetime(2025, 5, 4, 3, 2, 1, 123456)  # naive means UTC
    meta = {"file": "notes.pdf", "page": 3, "ünïcode": ["ok"]}
    [pid] = store.insert(
        "a",
        ["Quarterly report on solar panels."],
        source="document",
        tags=["work", "energy"],
        location="notes.pdf p.3",
        metadata=meta,
        created_at=naive,
        doc_date=datetime(2024, 1, 1, tzinfo=UTC),
    )
    [found] = store.search("a", "solar").items
    assert found.id == pid and found.text == "Quarterly report on solar panels."
    assert found.created_at == naive.replace(tzinfo=UTC)
    assert (found.source, found.tags, found.location) == (
        "document",
        ("work", "energy"),
        "notes.pdf p.3",
    )
    assert found.metadata == meta and found.score > 0
    with pytest.raises(InputError, match="JSON"):
        store.insert("a", ["x"], metadata={"bad": object()})


def test_new_rows_are_searchable_at_once_across_optimize_boundaries(
    store: LanceArchivalStore,
) -> None:
    """Native FTS scans unindexed rows, so no insert waits for an index update."""
    for i in range(archival_module.OPTIMIZE_EVERY + 8):
        word = f"marker{i}x"
        [pid] = store.insert("a", [f"Entry {i} carries the word {word}."])
        assert store.search("a", word, page_size=1).items[0].id == pid
    assert store.count("a") == archival_module.OPTIMIZE_EVERY + 8


def test_paging_totals(store: LanceArchivalStore) -> None:
    ids = store.insert("a", [f"garden note number {i}" for i in range(23)])
    pages = [store.search("a", "garden note", page=p, page_size=5) for p in range(1, 7)]
    assert {p.total for p in pages} == {23}
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 3, 0]
    assert pages[4].pages == 5 and pages[4].header() == "page 5 of 5, total 23"
    seen = [item.id for p in pages for item in p.items]
    assert sorted(seen) == sorted(ids)  # no duplicates, nothing lost between pages
    scores = [item.score for p in pages for item in p.items]
    assert scores == sorted(scores, reverse=True)
    with pytest.raises(InputError):
        store.search("a", "garden", page=0)
    with pytest.raises(InputError):
        store.list_passages("a", page_size=0)


def test_total_is_bounded_by_the_candidate_limit(store_path: Path) -> None:
    store = LanceArchivalStore(store_path, HashEmbedder(), candidates=10)
    store.insert("a", [f"apple fact {i}" for i in range(30)])
    first, last = (
        store.search("a", "apple", page_size=4),
        store.search("a", "apple", page=3, page_size=4),
    )
    assert first.total == last.total == 10
    assert len(last.items) == 2


def test_empty_query_lists_newest_first_with_true_total(store: LanceArchivalStore) -> None:
    for i in range(12):
        store.insert("a", [f"diary entry {i}"], created_at=T0 + timedelta(days=i))
    for query in ("", "   "):
        page = store.search("a", query, page=2, page_size=5)
        assert page.total == 12
        assert [p.text for p in page.items] == [f"diary entry {i}" for i in (6, 5, 4, 3, 2)]
    listed = store.list_passages("a", page=3, page_size=5)
    assert (listed.total, [p.text for p in listed.items]) == (
        12,
        ["diary entry 1", "diary entry 0"],
    )
    assert store.list_passages("a", page=4, page_size=5).items == ()


def test_empty_store_and_unknown_agent(store: LanceArchivalStore) -> None:
    for agent in ("a", "nobody"):
        page = store.search(agent, "anything at all")
        assert (page.items, page.total, page.page) == ((), 0, 1)
        assert store.list_passages(agent).total == 0
    store.insert("a", ["something"])
    assert store.search("nobody", "something").total == 0
    assert store.search("nobody", "").total == 0


def test_filters_by_source_tags_and_dates(store: LanceArchivalStore) -> None:
    store.insert("a", ["budget meeting notes"], source="document", tags=["work"], created_at=T0)
    day10, day20 = T0 + timedelta(days=10), T0 + timedelta(days=20)
    store.insert(
        "a", ["budget for the holiday"], source="journal", tags=["home", "travel"], created_at=day10
    )
    store.insert("a", ["budget of the club"], source="agent", tags=["club"], created_at=day20)

    def texts(filters: ArchivalFilter) -> set[str]:
        found = store.search("a", "budget", page_size=10, filters=filters)
        listed = store.list_passages("a", page_size=10, filters=filters)
        assert found.total == listed.total
        assert {p.text for p in found.items} == {p.text for p in listed.items}
        return {p.text for p in found.items}

    assert texts(ArchivalFilter()) == {
        "budget meeting notes",
        "budget for the holiday",
        "budget of the club",
    }
    assert texts(ArchivalFilter(sources=("document", "journal"))) == {
        "budget meeting notes",
        "budget for the holiday",
    }
    assert texts(ArchivalFilter(tags=("travel", "club"))) == {
        "budget for the holiday",
        "budget of the club",
    }
    assert texts(ArchivalFilter(tags=("nope",))) == set()
    # Both ends are inclusive; naive datetimes are UTC; an aware one in another zone converts.
    assert texts(ArchivalFilter(start=T0 + timedelta(days=10))) == {
        "budget for the holiday",
        "budget of the club",
    }
    naive_end = (T0 + timedelta(days=10)).replace(tzinfo=None)
    assert texts(ArchivalFilter(end=naive_end)) == {
        "budget meeting notes",
        "budget for the holiday",
    }
    other_zone = (T0 + timedelta(days=5)).astimezone(timezone(timedelta(hours=-7)))
    assert texts(ArchivalFilter(start=other_zone, end=T0 + timedelta(days=15))) == {
        "budget for the holiday"
    }
    assert texts(ArchivalFilter(sources=("journal",), tags=("work",))) == set()


def test_soft_delete_hides_and_purge_removes(store: LanceArchivalStore, store_path: Path) -> None:
    keep, gone, other = store.insert("a", ["keep this fact", "forget this fact", "another fact"])
    [b_id] = store.insert("b", ["forget this fact too"])
    assert store.delete("a", [gone, gone, b_id, "no-such-id"]) == 1  # b's passage is not a's
    assert store.delete("a", [gone]) == 0  # already hidden
    assert store.delete("a", []) == 0
    assert store.count("a") == 2 and store.count("b") == 1
    assert gone not in {p.id for p in store.search("a", "forget this fact").items}
    assert gone not in {p.id for p in store.list_passages("a").items}

    def rows_on_disk() -> int:
        return int(lancedb.connect(str(store_path)).open_table("archival").count_rows())

    assert rows_on_disk() == 4  # soft: still there
    assert store.purge_deleted("b") == 0
    assert store.purge_deleted("a") == 1
    assert rows_on_disk() == 3
    assert {p.id for p in store.list_passages("a").items} == {keep, other}


QUERIES = [
    '"unbalanced quote',
    "title:cats AND (dogs OR",
    "3f2a8c1e-11ee-4b5c-9d2a-0242ac120002",
    "' OR 1=1; DROP TABLE archival; --",
    "back\\slash \\",
    "*?+~^!{}[]<>|&/",
    "NOT",
    "AND OR NOT",
    "émoji 🎉 日本語",
    "x" * 5000,
    "?",
    "'",
    "%_",
]


@pytest.mark.parametrize("query", QUERIES)
def test_special_character_queries_never_raise(store: LanceArchivalStore, query: str) -> None:
    store.insert("a", ["an ordinary passage about cats and dogs", "title: cats (and dogs)"])
    page = store.search("a", query, page_size=3)
    assert page.total <= 2


def test_special_characters_in_ids_tags_and_sources(store: LanceArchivalStore) -> None:
    odd = 'it\'s "odd" \\ agent'
    [pid] = store.insert(odd, ["quoted passage"], source="o'source", tags=["t'ag", "a,b"])
    assert store.count(odd) == 1 and store.count("it") == 0
    filters = ArchivalFilter(sources=("o'source",), tags=("t'ag",))
    assert [p.id for p in store.search(odd, "quoted", filters=filters).items] == [pid]
    assert store.delete(odd, [pid, "x' OR '1'='1"]) == 1


def test_agent_isolation(store: LanceArchivalStore) -> None:
    store.insert("b", [f"shared secret word number {i}" for i in range(80)])
    [mine] = store.insert("a", ["shared secret word"])
    page = store.search("a", "shared secret word")
    assert [p.id for p in page.items] == [mine] and page.total == 1
    assert store.count("a") == 1 and store.count("b") == 80
    assert store.list_passages("a").total == 1
    assert store.delete("b", [mine]) == 0 and store.count("a") == 1
    assert store.purge_deleted("b") == 0


def test_reopening_the_directory_finds_everything(store_path: Path) -> None:
    first = LanceArchivalStore(store_path, HashEmbedder())
    ids = [first.insert("a", [f"persistent memory {i}"])[0] for i in range(5)]
    first.delete("a", [ids[0]])
    del first
    again = LanceArchivalStore(store_path, HashEmbedder())
    assert again.count("a") == 4
    assert again.search("a", "persistent memory 3", page_size=1).items[0].id == ids[3]
    [new] = again.insert("a", ["written after the restart"])
    assert again.search("a", "restart", page_size=1).items[0].id == new


def test_two_open_stores_see_each_others_writes(store_path: Path) -> None:
    writer = LanceArchivalStore(store_path, HashEmbedder())
    reader = LanceArchivalStore(store_path, HashEmbedder())
    [pid] = writer.insert("a", ["written by the other window"])
    assert reader.count("a") == 1
    assert reader.search("a", "other window").items[0].id == pid
    assert reader.delete("a", [pid]) == 1 and writer.count("a") == 0


def test_other_embedding_size_is_refused(store_path: Path) -> None:
    LanceArchivalStore(store_path, HashEmbedder(dim=384)).insert("a", ["x"])
    with pytest.raises(StoreError, match="384"):
        LanceArchivalStore(store_path, HashEmbedder(dim=64))


def test_unusable_directory_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="archival memory could not"):
        LanceArchivalStore(blocker, HashEmbedder())


def test_vector_index_hook(store_path: Path) -> None:
    store = LanceArchivalStore(store_path, HashEmbedder(), vector_index_min_rows=500)
    store.insert("a", [f"filler passage {i} about topic {i % 17}" for i in range(400)])
    assert store.maybe_build_vector_index() is False and not store.has_vector_index
    ids = store.insert("a", [f"second batch {i} mentions quasar{i}" for i in range(200)])
    assert store.maybe_build_vector_index() is True and store.has_vector_index
    assert store.search("a", "quasar150", page_size=1).items[0].id == ids[150]
    assert LanceArchivalStore(store_path, HashEmbedder()).has_vector_index


def test_concurrent_inserts_and_searches(store: LanceArchivalStore) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                store.insert("a", [f"thread {n} line {i}"])
                store.search("a", f"thread {n}")
                store.list_passages("a")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count("a") == 40


def test_rrf_fuse_and_helpers() -> None:
    fused = rrf_fuse([["x", "y", "z"], ["y", "w"]], k=60)
    assert [pid for pid, _ in fused] == ["y", "x", "w", "z"]
    assert fused[0][1] == pytest.approx(1 / 62 + 1 / 61)
    assert rrf_fuse([["a"], ["b"]])[0][0] == "a"  # ties: same rank, earlier list wins
    assert rrf_fuse([]) == []
    assert fts_terms('title:"cats" (3f2a-11ee)') == "title cats 3f2a 11ee"
    assert fts_terms("?!") == ""
    assert where_clause("o'k") == "agent_id = 'o''k' AND deleted = false"


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    emb = HashEmbedder(dim=64)
    vectors = emb.embed(["red apple pie", "red apple tart", "quantum physics", "!!!"])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert np.array_equal(HashEmbedder(dim=64).embed_query("red apple pie"), vectors[0])
    assert emb.embed([]).shape == (0, 64)


@pytest.mark.embed
def test_minilm_embedder_shapes(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["hello world", "good morning"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = minilm.embed_query("hello world")
    assert query.shape == (384,) and np.allclose(query, vectors[0], atol=1e-5)
    assert minilm.embed([]).shape == (0, 384)


@pytest.mark.embed
def test_exact_uuid_among_1000_passages_is_found_first(
    minilm: MiniLMEmbedder, store_path: Path
) -> None:
    rnd = random.Random(7)
    issues = ["billing", "login", "refund", "printer", "delivery", "password", "network"]
    tickets = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(1000)]
    texts = [f"Ticket {t}: a {rnd.choice(issues)} problem." for t in tickets]
    store = LanceArchivalStore(store_path, minilm)
    ids = store.insert("a", texts)
    target = 617
    for query in (tickets[target], f"what do we know about ticket {tickets[target]}?"):
        page = store.search("a", query)
        assert page.items[0].id == ids[target], query


@pytest.mark.embed
def test_paraphrase_is_found_by_meaning(minilm: MiniLMEmbedder, store_path: Path) -> None:
    facts = [
        "my sister Anna moved to Lisbon",
        "The user lives in Berlin with his partner Tom.",
        "The user's favourite food is ramen.",
        "The user works as a nurse on night shifts.",
        "The user's dog is called Biscuit and is nine years old.",
        "The user is learning Portuguese on weekday evenings.",
        "The user's mother lives near the sea and calls every Sunday.",
        "The user is allergic to peanuts.",
        "The user's best friend Karim lives in Cairo now.",
        "The user drives an old blue Volvo.",
        "The user's grandfather was a carpenter.",
        "The user supports a local football club.",
    ]
    store = LanceArchivalStore(store_path, minilm)
    ids = store.insert("a", facts)
    # No word in common with the target, while three facts share "live(s)" with the query:
    # RRF ranks those (keyword + vector votes) above the vector-only match, on page 1.
    page = store.search("a", "where does my sibling live now?", page_size=5)
    assert ids[0] in [p.id for p in page.items]
    assert store.search("a", "Where did my sister move to?").items[0].id == ids[0]


# ---- scalar indexes, fetching only the page, copies -------------------------------------------
def _index_types(store_path: Path) -> dict[str, str]:
    table = lancedb.connect(str(store_path)).open_table("archival")
    return {ix.columns[0]: ix.index_type for ix in table.list_indices()}


def test_scalar_indexes_are_made_on_open_also_for_an_older_table(store_path: Path) -> None:
    first = LanceArchivalStore(store_path, HashEmbedder())
    [pid] = first.insert("a", ["an older table"])
    table = lancedb.connect(str(store_path)).open_table("archival")
    for name in ("agent_id_idx", "deleted_idx", "id_idx"):
        table.drop_index(name)  # as a store made before the indexes existed
    assert set(_index_types(store_path)) == {"text"}
    again = LanceArchivalStore(store_path, HashEmbedder())
    types = _index_types(store_path)
    assert (types["agent_id"], types["deleted"], types["id"]) == ("Bitmap", "Bitmap", "BTree")
    assert again.search("a", "older table").items[0].id == pid


def test_deletes_and_paging_stay_right_across_index_updates(store: LanceArchivalStore) -> None:
    ids = store.insert("a", [f"orchard harvest log {i}" for i in range(30)])
    store.insert("b", [f"orchard harvest log {i}" for i in range(30)])
    store.optimize()  # rows now in the agent_id / deleted / id indexes
    assert store.delete("a", ids[:10]) == 10  # rewritten rows, not yet indexed
    for when in ("before optimize", "after optimize"):
        pages = [store.search("a", "orchard harvest", page=p, page_size=7) for p in (1, 2, 3, 4)]
        seen = [item.id for page in pages for item in page.items]
        assert {page.total for page in pages} == {20}, when
        assert sorted(seen) == sorted(ids[10:]), when  # no deleted row, no other agent's
        assert store.count("a") == 20 and store.list_passages("a").total == 20, when
        store.optimize()


def test_copy_passages_keeps_vectors_and_renames(store: LanceArchivalStore) -> None:
    ids = store.insert(
        "a", ["first copied", "second copied", "hidden"], metadata={"source_id": 1, "x": "y"}
    )
    store.delete("a", [ids[2]])
    id_map = {ids[0]: "c0", ids[1]: "c1", ids[2]: "c2", "missing": "c3"}
    assert store.copy_passages("a", id_map, "b", metadata={"source_id": 2}) == 2
    copies = {p.id: p for p in store.list_passages("b").items}
    assert set(copies) == {"c0", "c1"} and store.count("a") == 2
    assert copies["c0"].text == "first copied"
    assert copies["c0"].metadata == {"source_id": 2, "x": "y"}
    table = lancedb.connect(str(store.path)).open_table("archival")
    vectors = {
        row["id"]: row["vector"]
        for row in table.search().select(["id", "vector"]).limit(10).to_arrow().to_pylist()
    }
    assert vectors["c0"] == vectors[ids[0]] and vectors["c1"] == vectors[ids[1]]
    assert store.copy_passages("a", {}, "b") == 0


def test_unfiltered_vector_list_of_a_dominant_agent_matches_the_prefiltered_one(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent owning >= 95% of the rows skips the vector prefilter: its results must match
    the prefiltered ones, deleted and other agents' rows never show, and a list the filter
    cuts short falls back to the prefilter (then the results are identical)."""
    store = LanceArchivalStore(store_path, HashEmbedder(), vector_index_min_rows=500)
    ids = store.insert("a", [f"meadow note {i} on topic {i % 13}" for i in range(640)])
    other = store.insert("b", [f"meadow note {i} on topic {i % 13}" for i in range(20)])
    store.delete("a", ids[:5])
    assert store.maybe_build_vector_index() and store._share("a") >= 0.95
    queries = ["?", "meadow note 7", "topic 3", "note 600 on topic 2"]

    def results(agent: str) -> list[list[str]]:
        pages = [store.search(agent, q, page_size=50) for q in queries]
        return [[p.id for p in page.items] for page in pages]

    unfiltered = results("a")
    monkeypatch.setattr(archival_module, "POSTFILTER_MIN_SHARE", 2.0)  # always prefilter
    prefiltered = results("a")
    # Approximate search over a slightly larger refine pool: the same top 10, give or take.
    for mine, exact in zip(unfiltered, prefiltered, strict=True):
        assert len(set(mine[:10]) & set(exact[:10])) >= 8
    assert all(len(r) == 50 for r in unfiltered)
    assert not {i for r in unfiltered for i in r} & {*ids[:5], *other}
    prefiltered_b = results("b")
    monkeypatch.setattr(archival_module, "POSTFILTER_MIN_SHARE", 0.0)  # b too: falls back
    assert results("b") == prefiltered_b
    assert {i for r in prefiltered_b for i in r} <= set(other)
