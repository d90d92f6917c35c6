"""`engram search --doc-from/--doc-to` and the batch form's "doc_from"/"doc_to": documents by
the date they were made, in-process on the test's ENGRAM_HOME with a HashEmbedder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.ingest import lookup
from tests.ingest.test_cli_docs import engram, json_lines
from tests.ingest.test_cli_docs import fake_model as fake_model  # the autouse fixture


@pytest.fixture
def dated(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "spring.md").write_text(
        "---\ndate: 2020-04-10\n---\n\n# Canoe\n\nThe red canoe was painted in spring.\n",
        encoding="utf-8",
    )
    (folder / "autumn.md").write_text(
        "---\ndate: 2022-10-10\n---\n\n# Canoe\n\nThe red canoe was stored in autumn.\n",
        encoding="utf-8",
    )
    old = folder / "notes.txt"
    old.write_text("The red canoe needs a new paddle.\n", encoding="utf-8")
    stamp = datetime(2018, 2, 3, tzinfo=UTC).timestamp()
    os.utime(old, (stamp, stamp))
    return folder


def names(hits: list[dict[str, object]]) -> set[str]:
    return {Path(str(h["metadata"]["path"])).name for h in hits}  # type: ignore[index]


def test_search_by_document_date(dated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert engram("ingest", str(dated), "--agent", "ann") == 0
    capsys.readouterr()
    base = ("search", "red canoe", "--agent", "ann", "--json", "--k", "10")
    assert engram(*base) == 0
    assert names(json_lines(capsys.readouterr().out)) == {"spring.md", "autumn.md", "notes.txt"}
    assert engram(*base, "--doc-from", "2020-01-01", "--doc-to", "2020-12-31") == 0
    assert names(json_lines(capsys.readouterr().out)) == {"spring.md"}
    assert engram(*base, "--doc-from", "2022-10-10") == 0  # the bound's day counts
    assert names(json_lines(capsys.readouterr().out)) == {"autumn.md"}
    assert engram(*base, "--doc-to", "2019-01-01") == 0  # dated by its file's mtime
    assert names(json_lines(capsys.readouterr().out)) == {"notes.txt"}
    assert engram(*base, "--doc-from", "last spring") == 1
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_batch_lines_take_document_date_bounds() -> None:
    default = lookup.Query("x", doc_start=datetime(2020, 1, 1, tzinfo=UTC))
    query = lookup.parse_query({"query": "canoe", "doc_to": "2021-06-30"}, default)
    assert query.doc_start == datetime(2020, 1, 1, tzinfo=UTC)
    assert query.doc_end is not None and query.doc_end.date().isoformat() == "2021-06-30"
    assert query.doc_end.hour == 23
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        lookup.parse_query({"query": "canoe", "doc_from": 2020}, default)
    assert lookup.parse_query({"query": "q"}, lookup.Query("")).filters is None
