"""The document commands run in-process, as `engram` would run them, on the test's ENGRAM_HOME.

The embedding model is swapped for a counting HashEmbedder where the runtime builds it, so the
tests see how many times "the model" was made and what it embedded.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import cli_docs
from app.core.errors import EngramError
from app.ingest import lookup
from app.ingest.transcripts import parse_time
from app.memory import embedder as embedder_module
from app.memory.archival import LanceArchivalStore
from app.memory.embedder import HashEmbedder
from app.memory.sqlite_store import SqliteStore
from tests.ingest.test_pipeline import CountingEmbedder, prose


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[CountingEmbedder]]:
    class Model(CountingEmbedder):
        instances = 0

    monkeypatch.setattr(embedder_module, "MiniLMEmbedder", Model)
    yield Model


def engram(*argv: str) -> int:
    """Parse and run one command the way app.__main__.main does."""
    parser = argparse.ArgumentParser(prog="engram")
    cli_docs.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    try:
        return int(args.handler(args))
    except EngramError as err:
        print(f"engram: {err.user_message}", file=sys.stderr)
        return 1


def json_lines(text: str) -> list[Any]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "boat.md").write_text(
        "# Boats\n\nThe red canoe is kept in the boathouse by the lake.\n", encoding="utf-8"
    )
    (folder / "long.txt").write_text(prose(3), encoding="utf-8")
    (folder / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really\n" * 5)
    return folder


def ingested(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engram("ingest", str(docs), "--agent", "ann") == 1  # one file failed
    capsys.readouterr()


# ---- ingest and sources -----------------------------------------------------------------------
def test_ingest_reports_and_lists_sources(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engram("ingest", str(docs), "--agent", "ann") == 1
    out, err = capsys.readouterr()
    assert "Ingested 2 file(s), 4 chunk(s), into agent 'ann'; 0 unchanged, 1 failed." in out
    assert "bad.pdf is not a readable PDF" in out and "skipped" in err

    assert engram("ingest", str(docs / "boat.md"), "--agent", "ann") == 0
    assert "1 unchanged" in capsys.readouterr().out

    assert engram("sources", "--agent", "ann") == 0
    listing = capsys.readouterr().out.splitlines()
    statuses = sorted(line.split()[1] for line in listing if line.split()[0].isdigit())
    assert statuses == ["done", "done", "failed"]
    assert any("not a readable PDF" in line for line in listing)

    assert engram("sources") == 0  # every agent's, with the agent's name
    assert "ann" in capsys.readouterr().out
    assert engram("ingest", str(docs / "nope.txt")) == 1
    assert "Not found" in capsys.readouterr().err


def test_sources_remove_and_reindex(
    docs: Path, capsys: pytest.CaptureFixture[str], engram_home: Path
) -> None:
    ingested(docs, capsys)
    recall = SqliteStore(engram_home / "engram.db")
    agent = recall.get_agent("ann")
    recall.close()
    assert agent is not None
    store = LanceArchivalStore(engram_home / "archival", HashEmbedder())
    assert store.count(agent.id) == 4
    by_name = _source_ids(capsys)
    assert engram("sources", "--reindex", str(by_name["long.txt"])) == 0
    assert "Ingested 1 file(s), 3 chunk(s)" in capsys.readouterr().out
    assert store.count(agent.id) == 4
    assert engram("sources", "--remove", str(by_name["long.txt"])) == 0
    assert "Removed" in capsys.readouterr().out
    assert store.count(agent.id) == 1
    assert "long.txt" not in _source_ids(capsys)
    assert engram("sources", "--remove", "999") == 1
    assert "no document source #999" in capsys.readouterr().err


def _source_ids(capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    assert engram("sources", "--agent", "ann") == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    return {Path(row[-1]).name: int(row[0]) for row in rows if row and row[0].isdigit()}


# ---- search -----------------------------------------------------------------------------------
def test_search_json_has_ids_locations_scores_and_metadata(
    docs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingested(docs, capsys)
    assert engram("search", "red canoe boathouse", "--agent", "ann", "--json", "--k", "3") == 0
    hits = json_lines(capsys.readouterr().out)
    assert 1 <= len(hits) <= 3
    top = hits[0]
    assert {"id", "text", "source", "location", "score", "created_at", "metadata"} <= set(top)
    assert top["location"] == "boat.md, Boats" and top["source"] == "document"
    assert top["metadata"]["char_start"] == 0 and top["metadata"]["path"].endswith("boat.md")
    assert top["score"] > 0

    assert engram("search", "red canoe", "--agent", "ann", "--in", "recall", "--json") == 0
    assert json_lines(capsys.readouterr().out) == []
    assert engram("search", "red canoe", "--agent", "ann") == 0
    assert "boat.md, Boats" in capsys.readouterr().out
    assert engram("search", "anything", "--agent", "nobody") == 1
    assert "no agent called 'nobody'" in capsys.readouterr().err


def test_batch_answers_every_line_with_one_model(
    docs: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fake_model: type[CountingEmbedder],
) -> None:
    ingested(docs, capsys)
    fake_model.instances = 0
    queries = tmp_path / "queries.jsonl"
    lines = [
        {"query": "red canoe", "k": 2},
        {"query": "boathouse lake", "in": "archival"},
        "not json",
        {"query": "paragraph", "k": 1, "in": "all"},
        {"query": "canoe", "in": "recall"},
    ]
    queries.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    assert engram("search", "--batch", str(queries), "--agent", "ann") == 1  # one bad line
    out, err = capsys.readouterr()
    results = json_lines(out)
    assert len(results) == 5 and all(isinstance(r, list) for r in results)
    assert len(results[0]) <= 2 and results[0][0]["location"] == "boat.md, Boats"
    assert results[2] == [] and "line 3" in err
    assert len(results[3]) == 1 and results[4] == []
    assert fake_model.instances == 1  # one model for every query


def test_batch_reads_stdin(
    docs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ingested(docs, capsys)
    monkeypatch.setattr("sys.stdin", io.StringIO('{"query": "canoe"}\n{"query": "lake"}\n'))
    assert engram("search", "--batch", "-", "--agent", "ann") == 0
    assert len(json_lines(capsys.readouterr().out)) == 2


def test_search_choices_match_lookup() -> None:
    assert cli_docs.SEARCH_IN == lookup.WHERE


# ---- import-chat ------------------------------------------------------------------------------
CHATGPT = [
    {
        "title": "Trip planning",
        "create_time": 1700000000.0,
        "conversation_id": "conv-1",
        "current_node": "n3",
        "mapping": {
            "root": {"id": "root", "message": None, "parent": None, "children": ["n0"]},
            "n0": {
                "id": "n0",
                "parent": "root",
                "children": ["n1"],
                "message": {
                    "id": "n0",
                    "author": {"role": "system"},
                    "content": {"content_type": "text", "parts": [""]},
                    "create_time": None,
                },
            },
            "n1": {
                "id": "n1",
                "parent": "n0",
                "children": ["n2", "n2b"],
                "message": {
                    "id": "msg-user-1",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["Where should I go in Lisbon?"]},
                    "create_time": 1700000010.0,
                },
            },
            "n2b": {
                "id": "n2b",
                "parent": "n1",
                "children": [],
                "message": {
                    "id": "msg-abandoned",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["An abandoned branch."]},
                    "create_time": 1700000015.0,
                },
            },
            "n2": {
                "id": "n2",
                "parent": "n1",
                "children": ["n3"],
                "message": {
                    "id": "msg-bot-1",
                    "author": {"role": "assistant"},
                    "content": {"content_type": "text", "parts": ["Visit the Alfama tram 28."]},
                    "create_time": 1700000020.0,
                },
            },
            "n3": {
                "id": "n3",
                "parent": "n2",
                "children": [],
                "message": {
                    "id": "msg-user-2",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["Thanks, and pasteis?"]},
                    "create_time": 1700000030.0,
                },
            },
        },
    }
]


def _agent_store(home: Path) -> tuple[SqliteStore, str]:
    recall = SqliteStore(home / "engram.db")
    info = recall.get_agent("ann")
    assert info is not None
    return recall, info.id


def test_import_json_lines_into_recall_not_the_context(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engram_home: Path
) -> None:
    transcript = tmp_path / "chat.jsonl"
    rows = [
        {
            "role": "user",
            "text": "My sister Maya started pottery.",
            "timestamp": "2024-05-01T10:00:00Z",
            "id": "u1",
        },
        {
            "speaker": "assistant",
            "text": "Lovely! What does she make?",
            "timestamp": 1714557660,
            "id": "a1",
        },
        {"role": "system", "text": "hidden instructions"},
        {"role": "human", "content": "Bowls, mostly.", "time": "2024-05-01 10:02"},
    ]
    transcript.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")
    assert engram("import-chat", str(transcript), "--agent", "ann") == 0
    out = capsys.readouterr().out
    assert "Imported 3 message(s) into agent 'ann' (0 already there, 2 left out)" in out
    assert "line 5" in out

    recall, agent = _agent_store(engram_home)
    try:
        context = recall.context_messages(agent)
        assert all(not m.metadata.get("imported") for m in context)
        assert recall.count_messages(agent) == 4  # the login event and the three
    finally:
        recall.close()

    assert engram("search", "Maya pottery", "--agent", "ann", "--in", "recall", "--json") == 0
    [hit] = json_lines(capsys.readouterr().out)
    assert hit["metadata"]["external_id"] == "u1" and hit["metadata"]["imported"] is True
    assert hit["created_at"].startswith("2024-05-01T10:00:00")
    assert engram("search", "what does she make", "--agent", "ann", "--in", "recall", "--json") == 0
    [reply] = json_lines(capsys.readouterr().out)
    assert reply["kind"] == "function_call" and reply["metadata"]["external_id"] == "a1"

    assert engram("import-chat", str(transcript), "--agent", "ann") == 0  # again: nothing new
    assert "Imported 0 message(s) into agent 'ann' (3 already there" in capsys.readouterr().out


def test_import_chatgpt_export_with_archival(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], engram_home: Path
) -> None:
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(CHATGPT, indent=2), encoding="utf-8")
    assert engram("import-chat", str(export), "--agent", "ann", "--archival") == 0
    out = capsys.readouterr().out
    assert "Imported 3 message(s)" in out and "1 archival passage(s)" in out

    recall, agent = _agent_store(engram_home)
    try:
        texts = [m.text for m in recall.search_text(agent, "Alfama tram", 1, 5).items]
        assert texts == ["Visit the Alfama tram 28."]
        assert not any(m.metadata.get("imported") for m in recall.context_messages(agent))
    finally:
        recall.close()

    assert engram("search", "Alfama tram", "--agent", "ann", "--in", "all", "--json") == 0
    hits = json_lines(capsys.readouterr().out)
    stores = {h["store"]: h for h in hits}
    assert stores["recall"]["metadata"]["external_id"] == "msg-bot-1"
    window = stores["archival"]
    assert window["source"] == "conversation"
    assert window["metadata"]["external_ids"] == ["msg-user-1", "msg-bot-1", "msg-user-2"]
    assert window["location"].startswith("Trip planning, 2023-11-14")
    assert "abandoned" not in window["text"]
    assert engram("search", "abandoned branch", "--agent", "ann", "--in", "recall", "--json") == 0
    assert json_lines(capsys.readouterr().out) == []


def test_import_of_nothing_readable_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("just prose\n", encoding="utf-8")
    assert engram("import-chat", str(bad), "--agent", "ann") == 1
    assert "no conversation messages" in capsys.readouterr().err
    assert engram("import-chat", str(tmp_path / "missing.json")) == 1


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00+00:00"),
        ("2024-05-01 12:00:00+02:00", "2024-05-01T10:00:00+00:00"),
        (1714557600, "2024-05-01T10:00:00+00:00"),
        (1714557600000, "2024-05-01T10:00:00+00:00"),
        ("1714557600.5", "2024-05-01T10:00:00.500000+00:00"),
    ],
)
def test_times(value: object, iso: str) -> None:
    moment = parse_time(value)
    assert moment is not None and moment.isoformat() == iso


def test_unreadable_times() -> None:
    assert parse_time("yesterday") is None and parse_time(True) is None
    assert parse_time(float("nan")) is None and parse_time(None) is None


def test_main_knows_the_commands() -> None:
    from app.__main__ import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if "ingest" not in commands.choices:
        pytest.skip("app/__main__.py does not register app.cli_docs yet")
    wanted = {"ingest", "sources", "attach", "detach", "search", "import-chat"}
    assert wanted <= set(commands.choices)
