"""The wording and records the window shows (no Qt needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.messages import BlockEdit, Page, Passage
from app.llm.scripted import ScriptedBackend
from app.ui.describe import (
    call_in_progress,
    call_summary,
    describe_backend,
    describe_edit,
    memory_edit_line,
    result_count,
    short,
    unique_name,
    when,
)
from app.ui.recording import RecordingArchival
from tests.fakes import InMemoryArchival

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_archival_search_line_counts_results() -> None:
    result = "page 1 of 1, total 3 of archival matches for 'sister':\n..."
    args = {"query": "sister", "page": 1}
    assert call_in_progress("archival_memory_search", args) == (
        "searching archival memory for 'sister'…"
    )
    assert call_summary("archival_memory_search", args, True, result) == (
        "searched archival memory for 'sister' — 3 results"
    )
    none = "No archival matches for 'x' (page 1, total 0)."
    assert call_summary("archival_memory_search", {"query": "x"}, True, none).endswith(
        "— 0 results"
    )
    one = "page 1 of 1, total 1 of conversation matches"
    assert call_summary("conversation_search", {"query": "tea"}, True, one).endswith("1 result")


def test_memory_calls_and_failures() -> None:
    args = {"label": "human", "content": "Likes tea."}
    assert call_summary("core_memory_append", args, True, "ok") == "updated core memory: human"
    failed = call_summary("core_memory_append", args, False, "Edit failed: too long")
    assert failed.startswith("updating core memory: human failed: Edit failed")
    invalid = call_summary("(invalid)", {}, False, "invalid JSON: Expecting value")
    assert invalid.startswith("the model's step was not a valid call")
    assert memory_edit_line("agent:core_memory_append", "human") is None
    assert memory_edit_line("user", "human") == "you edited core memory: human"
    assert memory_edit_line("undo", "persona") == "undid an edit of core memory: persona"


def test_edit_descriptions() -> None:
    def edit(old: str, new: str) -> BlockEdit:
        return BlockEdit(1, "a", "human", old, new, "user", NOW)

    assert describe_edit(edit("Name: Ada", "Name: Ada\nLikes tea")) == "+ Likes tea"
    assert describe_edit(edit("Name: Ada\nLikes tea", "Name: Ada")) == "− Likes tea"
    assert "→" in describe_edit(edit("Ada", "Maya"))


def test_small_helpers() -> None:
    assert short("a  b\nc", 10) == "a b c"
    assert short("x" * 20, 10) == "x" * 9 + "…"
    assert result_count("nothing here") is None
    assert unique_name("new agent", ["new agent", "new agent 2"]) == "new agent 3"
    assert when(NOW, now=NOW) == NOW.astimezone().strftime("%H:%M")
    assert when(NOW, now=datetime(2026, 4, 1, tzinfo=UTC)) == "2026-03-01"


def test_backend_description() -> None:
    assert describe_backend(ScriptedBackend()) == "scripted — on CPU, 4,096 tokens of context"

    class Gpu:
        name = "Qwen2.5-7B"
        n_gpu_layers = 29
        context_window = 8192

    assert describe_backend(Gpu()) == "Qwen2.5-7B — on GPU: 29 layers, 8,192 tokens of context"

    class Info:
        block_count = 28

    class Partial(Gpu):
        gpu_layers = 20
        info = Info()

    assert describe_backend(Partial()).startswith("Qwen2.5-7B — on GPU: 20/29 layers,")


def test_recording_archival_remembers_what_searches_returned() -> None:
    inner = InMemoryArchival()
    store = RecordingArchival(inner)
    ids = store.insert("a", ["tea with Maya", "coffee with Ada"], location="notes.md")
    assert store.passages(ids) == ()
    found: Page[Passage] = store.search("a", "Maya")
    assert [p.id for p in found.items] == [ids[0]]
    assert [p.location for p in store.passages([ids[1], ids[0]])] == ["notes.md"]
    assert store.count("a") == 2
    assert store.delete("a", [ids[0]]) == 1
    assert store.passages(ids) == ()
    assert store.rows is inner.rows  # anything else goes to the wrapped store
