"""`engram trash`: a deleted passage stays recoverable until the trash is emptied."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from app import cli_docs, cli_trash
from tests.ingest.test_cli_docs import docs, fake_model, ingested  # noqa: F401 (fixtures)


def engram(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="engram")
    sub = parser.add_subparsers(dest="command")
    cli_docs.register(sub)
    cli_trash.register(sub)
    args = parser.parse_args(list(argv))
    return int(args.handler(args))


def passages(trash: bool = False) -> tuple[str, list[str]]:
    with cli_docs.open_library() as lib:
        agent = lib.agent_id("ann", create=False)
        page = lib.archival.list_passages(agent, page_size=100, trash=trash)
        return agent, [p.id for p in page.items]


def test_delete_restore_and_empty(docs: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    ingested(docs, capsys)
    agent, visible = passages()
    with cli_docs.open_library() as lib:
        assert lib.archival.delete(agent, visible[:2]) == 2
    assert engram("trash", "--agent", "ann") == 0
    out = capsys.readouterr().out
    assert "2 passages in the trash" in out and visible[0] in out and visible[1] in out

    assert engram("trash", "--agent", "ann", "--restore", visible[0], "nope") == 0
    assert "restored 1 of 2 passages" in capsys.readouterr().out
    assert set(passages()[1]) == set(visible[:1] + visible[2:])
    assert passages(trash=True)[1] == [visible[1]]

    assert engram("trash", "--agent", "ann", "--empty") == 0
    assert "deleted 1 passages for good" in capsys.readouterr().out
    assert passages(trash=True)[1] == []
    assert engram("trash", "--agent", "ann", "--restore", visible[1]) == 0
    assert "restored 0 of 1" in capsys.readouterr().out
    assert len(passages()[1]) == len(visible) - 1
