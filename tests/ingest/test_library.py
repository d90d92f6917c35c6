"""Per-agent attachment of library documents, on a real LanceDB directory and engram.db.

A document ingested for one agent is attached to another without embedding anything again
(the CountingEmbedder's count does not move), each agent sees only its own copy, detaching
takes one agent's copy away, and a killed attach carries on without duplicates.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import InputError, StoreError
from app.ingest.library import attach_source, attached_agents, detach_source, find_source
from app.memory.archival import LanceArchivalStore
from tests.ingest.test_cli_docs import engram, fake_model  # noqa: F401 (a fixture)
from tests.ingest.test_pipeline import T0, Env, prose


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    made = Env(tmp_path / "data")
    yield made
    made.close()


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "docs" / "handbook.txt"
    path.parent.mkdir()
    path.write_text(prose(5, seed=3) + "\n\nThe vault code is QX-7781-ZEBRA.\n", encoding="utf-8")
    return path.resolve()


def ids_and_texts(store: LanceArchivalStore, agent: str) -> list[tuple[str, str]]:
    page = store.list_passages(agent, page_size=1000)
    return sorted((p.id, p.text) for p in page.items)


def test_attach_copies_passages_without_embedding_and_detach_removes_one_copy(
    env: Env, doc: Path
) -> None:
    env.run(doc)
    [mine] = env.sources.list(env.agent)
    embedded = len(env.embedder.texts)
    bob = env.recall.create_agent("bob", [], T0).id

    theirs = attach_source(env.archival, env.sources, mine, bob)

    assert len(env.embedder.texts) == embedded  # nothing embedded again
    assert theirs.agent_id == bob and theirs.status == "done" and theirs.id != mine.id
    n = mine.chunks_total
    assert n is not None and n >= 5
    assert theirs.chunks_total == n and env.archival.count(bob) == n
    ann_rows, bob_rows = ids_and_texts(env.archival, env.agent), ids_and_texts(env.archival, bob)
    assert [t for _, t in ann_rows] == [t for _, t in bob_rows]
    assert not {i for i, _ in ann_rows} & {i for i, _ in bob_rows}  # ids stay unique
    [hit] = env.archival.search(bob, "QX-7781-ZEBRA", page_size=1).items
    assert "vault code" in hit.text and hit.metadata["source_id"] == theirs.id
    assert hit.location.startswith("handbook.txt")
    assert attached_agents(env.sources, mine) == [env.agent, bob]

    again = attach_source(env.archival, env.sources, mine, bob)  # attaching twice: no change
    assert again.id == theirs.id and env.archival.count(bob) == n

    detach_source(env.archival, env.sources, theirs)
    assert env.archival.count(bob) == 0 and env.sources.list(bob) == []
    assert ids_and_texts(env.archival, env.agent) == ann_rows  # the other agent keeps its copy
    assert env.archival.search(env.agent, "QX-7781-ZEBRA", page_size=1).items


def test_ingesting_a_file_another_agent_holds_attaches_it(env: Env, doc: Path) -> None:
    env.run(doc)
    embedded = len(env.embedder.texts)
    bob = env.recall.create_agent("bob", [], T0).id
    env.agent, ann = bob, env.agent
    last = env.run(doc)[-1]
    assert len(env.embedder.texts) == embedded
    assert env.archival.count(bob) == env.archival.count(ann) >= 5
    n = env.archival.count(ann)
    assert any("not embedded again" in note for _, note in last.notes)
    assert [s.status for s in env.sources.list(bob)] == ["done"]
    # Changing the file makes it a different document: read and embedded for that agent only.
    doc.write_text(prose(2, seed=9), encoding="utf-8")
    env.run(doc)
    assert len(env.embedder.texts) == embedded + 2
    assert env.archival.count(bob) == 2 and env.archival.count(ann) == n


def test_a_killed_attach_resumes_without_duplicates(
    env: Env, doc: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.run(doc)
    [mine] = env.sources.list(env.agent)
    bob = env.recall.create_agent("bob", [], T0).id
    real = LanceArchivalStore.copy_passages
    calls = 0

    def dies_on_the_second_batch(self: LanceArchivalStore, *args: Any, **kw: Any) -> int:
        nonlocal calls
        calls += 1
        copied = real(self, *args, **kw)  # the write happens, its checkpoint does not
        if calls == 2:
            raise StoreError("killed")
        return copied

    monkeypatch.setattr(LanceArchivalStore, "copy_passages", dies_on_the_second_batch)
    with pytest.raises(StoreError):
        attach_source(env.archival, env.sources, mine, bob, batch=2)
    [half] = env.sources.list(bob)
    assert (half.status, half.chunks_done, half.chunks_written) == ("ingesting", 2, 4)
    assert env.archival.count(bob) == 4
    monkeypatch.setattr(LanceArchivalStore, "copy_passages", real)

    done = attach_source(env.archival, env.sources, mine, bob, batch=2)
    assert done.id == half.id and done.status == "done"
    texts = [t for _, t in ids_and_texts(env.archival, bob)]
    assert len(texts) == len(set(texts)) == mine.chunks_total
    assert texts == [t for _, t in ids_and_texts(env.archival, env.agent)]


def test_only_done_documents_attach_and_refs_resolve(env: Env, doc: Path, tmp_path: Path) -> None:
    bad = tmp_path / "docs" / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really")
    env.run(doc, bad)
    bob = env.recall.create_agent("bob", [], T0).id
    failed = find_source(env.sources, str(bad))
    with pytest.raises(InputError, match="not fully ingested"):
        attach_source(env.archival, env.sources, failed, bob)
    good = find_source(env.sources, str(doc))
    assert find_source(env.sources, str(good.id)) == good
    assert attach_source(env.archival, env.sources, good, env.agent) == good  # its own: no-op
    theirs = attach_source(env.archival, env.sources, good, bob)
    assert find_source(env.sources, str(good.id), bob) == theirs  # number -> that agent's copy
    with pytest.raises(InputError, match="no document"):
        find_source(env.sources, str(tmp_path / "nowhere.txt"))


def test_cli_attach_sources_and_detach(
    engram_home: Path, doc: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert engram("ingest", str(doc), "--agent", "ann") == 0
    capsys.readouterr()
    assert engram("attach", str(doc), "--agent", "bob") == 0
    assert "nothing embedded again" in capsys.readouterr().out
    assert engram("sources", "--agent", "bob") == 0
    listed = capsys.readouterr().out
    assert "handbook.txt" in listed and "done" in listed
    assert engram("search", "QX-7781-ZEBRA", "--agent", "bob", "--in", "archival", "--json") == 0
    assert "vault code" in capsys.readouterr().out
    assert engram("detach", str(doc), "--agent", "bob") == 0
    assert "Detached" in capsys.readouterr().out
    assert engram("sources", "--agent", "bob") == 0
    assert "No documents yet" in capsys.readouterr().out
    assert engram("sources", "--agent", "ann") == 0
    assert "handbook.txt" in capsys.readouterr().out
    assert engram("detach", str(doc), "--agent", "bob") == 1
    assert "no document" in capsys.readouterr().err
