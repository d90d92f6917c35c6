"""The journal on the real archival store (LanceDB): dated questions over a year of entries,
and kept-out entries never stored. Skipped until app/memory/archival.py exists."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.core.agent import Agent
from app.core.clock import ManualClock
from app.core.journal import JournalIndexer, ask_journal
from app.llm.scripted import ScriptedBackend, call, reply
from app.memory.journal_store import JournalStore
from app.memory.sqlite_store import SqliteStore
from tests.journal.conftest import NOW, TODAY, write_year

archival_module = pytest.importorskip("app.memory.archival")
embedder_module = pytest.importorskip("app.memory.embedder")

D = date
SECRET = "quux-private-words"


def year_on_lance(journal: JournalStore, agent_id: str, path: Path, embedder: Any) -> Any:
    store = archival_module.LanceArchivalStore(path, embedder)
    write_year(journal)
    journal.create(D(2026, 3, 5), NOW, f"My sister and {SECRET}.", keep_out=True)
    JournalIndexer(journal, store, agent_id).catch_up()
    return store


def check_march(journal: JournalStore, store: Any, agent_id: str) -> None:
    answer = ask_journal(
        "What did I write about my sister in March?", store, agent_id, TODAY, page_size=20
    )
    assert answer.hits, "nothing found"
    assert all(D(2026, 3, 1) <= h.day <= D(2026, 3, 31) for h in answer.hits)
    assert any("sister" in h.text for h in answer.hits)
    assert all(SECRET not in h.text for h in answer.hits)
    everything = store.search(agent_id, SECRET, page_size=50)
    assert all(SECRET not in p.text for p in everything.items)


def test_dated_question_on_lance_with_hash_embedder(
    journal: JournalStore, agent_id: str, tmp_path: Path
) -> None:
    store = year_on_lance(journal, agent_id, tmp_path / "archival", embedder_module.HashEmbedder())
    check_march(journal, store, agent_id)
    week = ask_journal("What did I write last week?", store, agent_id, TODAY, page_size=10)
    assert sorted(h.day for h in week.hits) == [D(2026, 3, d) for d in range(2, 9)]


@pytest.mark.embed
def test_dated_question_on_lance_with_minilm(
    journal: JournalStore, agent_id: str, tmp_path: Path
) -> None:
    embedder = embedder_module.MiniLMEmbedder()
    store = year_on_lance(journal, agent_id, tmp_path / "archival", embedder)
    check_march(journal, store, agent_id)


def check_prompts(store: Any, recall: SqliteStore, agent_id: str, clock: ManualClock) -> None:
    """The agent searches its memory for exactly what the kept-out entry is about; the
    rendered prompts hold the public March entries and never the private one."""
    backend = ScriptedBackend(
        [
            reply("Hello!"),
            call("archival_memory_search", query="my sister in March", source="any", page=1),
            reply("You wrote about your sister."),
        ]
    )
    agent = Agent(agent_id, backend=backend, recall=recall, archival=store, clock=clock)
    list(agent.run())
    list(agent.chat("What did I write about my sister in March?"))
    prompts = [m.content for c in backend.calls for m in c.messages]
    assert any("Journal, " in p and "sister" in p for p in prompts)  # the search ran
    assert not any(SECRET in p for p in prompts)


def test_kept_out_never_in_a_prompt_on_lance(
    journal: JournalStore,
    recall: SqliteStore,
    agent_id: str,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    embedder = embedder_module.HashEmbedder()
    store = year_on_lance(journal, agent_id, tmp_path / "archival", embedder)
    check_prompts(store, recall, agent_id, clock)


@pytest.mark.embed
def test_kept_out_never_in_a_prompt_on_lance_with_minilm(
    journal: JournalStore,
    recall: SqliteStore,
    agent_id: str,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    embedder = embedder_module.MiniLMEmbedder()
    store = year_on_lance(journal, agent_id, tmp_path / "archival", embedder)
    check_prompts(store, recall, agent_id, clock)
