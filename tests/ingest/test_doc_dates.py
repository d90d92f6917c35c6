"""The document's own date as a search filter: read from each format's metadata (or the file's
modification time), stored on every passage, and honoured by the LanceDB prefilter, the fake,
and `engram search --doc-from/--doc-to`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter

from app.core.agent import Agent
from app.core.bootstrap import create_agent
from app.core.clock import ManualClock
from app.core.protocols import ArchivalFilter
from app.ingest.lookup import Query, search
from app.ingest.pipeline import IngestJob
from app.ingest.readers import document_date
from app.llm.scripted import ScriptedBackend, call, reply
from app.memory.archival import LanceArchivalStore
from app.memory.archival_query import where_clause
from app.memory.sources_store import SourcesStore
from app.memory.sqlite_store import SqliteStore
from tests.fakes import InMemoryArchival
from tests.ingest.test_readers import write_pdf

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def day(year: int, month: int = 1, dd: int = 1) -> datetime:
    return datetime(year, month, dd, tzinfo=UTC)


# ---- reading the date -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        ('<meta name="date" content="2022-04-05">', datetime(2022, 4, 5, 12, tzinfo=UTC)),
        (
            '<meta name="DCTERMS.created" content="2020-01-02T03:04:05Z">',
            datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (
            '<meta property="article:published_time" content="2019-07-08T10:00:00+02:00">',
            datetime(2019, 7, 8, 8, tzinfo=UTC),
        ),
        ('<meta name="date" content="last Tuesday">', None),
        ('<meta name="author" content="2022-04-05">', None),
    ],
)
def test_html_date_comes_from_its_meta_tag(tmp_path: Path, meta: str, expected: object) -> None:
    page = tmp_path / "page.html"
    page.write_text(f"<html><head>{meta}</head><body><p>Hello.</p></body></html>", "utf-8")
    assert document_date(page) == expected


def test_a_meta_tag_in_the_body_is_not_the_page_date(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<html><body><meta name="date" content="2022-04-05"></body></html>', "utf-8")
    assert document_date(page) is None


def test_pdf_without_creation_date_uses_its_modification_date(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/ModDate": "D:20180309120000Z"})
    path = tmp_path / "mod.pdf"
    with path.open("wb") as stream:
        writer.write(stream)
    assert document_date(path) == datetime(2018, 3, 9, 12, tzinfo=UTC)


def test_docx_date_is_its_created_property(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("Minutes of the orchard meeting.")
    document.core_properties.created = datetime(2017, 6, 1, 8, 0)
    path = tmp_path / "minutes.docx"
    document.save(str(path))
    assert document_date(path) == datetime(2017, 6, 1, 8, 0, tzinfo=UTC)


# ---- the filter -------------------------------------------------------------------------------
def test_where_clause_bounds_the_document_date() -> None:
    clause = where_clause("a", ArchivalFilter(doc_start=day(2020), doc_end=day(2021)))
    assert "doc_date >= arrow_cast('2020-01-01T00:00:00.000000Z'" in clause
    assert "doc_date <= arrow_cast('2021-01-01T00:00:00.000000Z'" in clause
    assert "doc_date" not in where_clause("a", ArchivalFilter(start=day(2020)))


def test_the_fake_store_honours_the_document_date() -> None:
    fake = InMemoryArchival()
    [old] = fake.insert("a", ["orchard report"], doc_date=day(2010))
    [new] = fake.insert("a", ["orchard memo"], doc_date=day(2024))
    fake.insert("a", ["orchard note"])  # no document date: outside every range
    hits = fake.search("a", "orchard", filters=ArchivalFilter(doc_start=day(2020)))
    assert [p.id for p in hits.items] == [new]
    hits = fake.search("a", "orchard", filters=ArchivalFilter(doc_end=day(2015)))
    assert [p.id for p in hits.items] == [old]
    assert fake.search("a", "orchard").total == 3


# ---- end to end: real files, LanceDB and MiniLM -----------------------------------------------
class Library:
    def __init__(self, root: Path, embedder: object) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.recall = SqliteStore(root / "engram.db")
        self.sources = SourcesStore(root / "engram.db")
        self.archival = LanceArchivalStore(root / "archival", embedder)  # type: ignore[arg-type]
        self.agent = create_agent(self.recall, ManualClock(T0), "tester").id

    def ingest(self, *paths: Path) -> None:
        last = list(IngestJob(list(paths), self.agent, self.archival, self.sources).run())[-1]
        assert last.finished and not last.errors, last.errors

    def found(self, query: str, **bounds: datetime) -> set[str]:
        hits = self.archival.search(
            self.agent, query, page_size=20, filters=ArchivalFilter(**bounds)
        )
        return {Path(p.metadata.get("path", "")).name or p.source for p in hits.items}

    def close(self) -> None:
        self.sources.close()
        self.recall.close()


@pytest.fixture
def dated(tmp_path: Path, minilm: object) -> Iterator[Library]:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(
        docs / "glacier.pdf",
        [["The glacier survey counted forty crevasses."]],
        created="20190315090000Z",
    )
    document = docx.Document()
    document.add_paragraph("The glacier committee approved the new hut.")
    document.core_properties.created = datetime(2021, 5, 4, 10, 30)
    document.save(str(docs / "committee.docx"))
    (docs / "trip.md").write_text(
        "---\ntitle: Trip\ndate: 2023-06-01\n---\n\nWe walked onto the glacier at dawn.\n",
        encoding="utf-8",
    )
    (docs / "news.html").write_text(
        '<html><head><meta name="date" content="2022-02-02"></head>'
        "<body><p>Glacier news: the ice retreated again.</p></body></html>",
        encoding="utf-8",
    )
    old = docs / "old.txt"
    old.write_text("An old note about the glacier lodge.\n", encoding="utf-8")
    stamp = day(2015, 8, 1).timestamp()
    os.utime(old, (stamp, stamp))
    lib = Library(tmp_path / "data", minilm)
    lib.ingest(docs)
    lib.archival.insert(lib.agent, ["I like the glacier."])  # agent memory: no document date
    yield lib
    lib.close()


@pytest.mark.embed
def test_a_document_date_range_finds_documents_made_in_it_and_only_those(
    dated: Library,
) -> None:
    everything = dated.found("glacier")
    assert everything == {
        "glacier.pdf",
        "committee.docx",
        "trip.md",
        "news.html",
        "old.txt",
        "agent",
    }
    assert dated.found("glacier", doc_start=day(2019), doc_end=day(2019, 12, 31)) == {"glacier.pdf"}
    assert dated.found("glacier", doc_start=day(2021), doc_end=day(2022, 12, 31)) == {
        "committee.docx",
        "news.html",
    }
    assert dated.found("glacier", doc_start=day(2023)) == {"trip.md"}
    assert dated.found("glacier", doc_end=day(2016)) == {"old.txt"}  # its file's mtime
    assert dated.found("glacier", doc_start=day(2024)) == set()
    # Stored time is another axis: everything was stored just now.
    assert dated.found("glacier", start=day(2024)) == everything


@pytest.mark.embed
def test_passages_carry_their_document_date(dated: Library) -> None:
    [hit] = dated.archival.search(
        dated.agent, "trip", filters=ArchivalFilter(doc_start=day(2023), doc_end=day(2023, 12, 31))
    ).items
    assert hit.metadata["doc_date"] == "2023-06-01T12:00:00+00:00"


@pytest.mark.embed
def test_search_records_take_document_date_bounds(dated: Library) -> None:
    query = Query("glacier", k=10, where="all", doc_start=day(2021), doc_end=day(2022, 12, 31))
    hits = search(query, dated.agent, dated.archival, dated.recall)
    assert {Path(h["metadata"]["path"]).name for h in hits} == {"committee.docx", "news.html"}
    assert all(h["store"] == "archival" for h in hits)


@pytest.mark.embed
def test_the_agent_finds_a_document_by_the_date_it_was_made(dated: Library) -> None:
    """Nothing was stored in May 2021, so the tool's date filter falls back to the documents'
    own dates and the model sees the committee minutes, not the other glacier passages."""
    backend = ScriptedBackend(
        [
            reply("Hello!"),
            call(
                "archival_memory_search",
                query="glacier committee in May 2021",
                source="any",
                page=1,
            ),
            reply("The committee approved the hut."),
        ]
    )
    agent = Agent(
        dated.agent,
        backend=backend,
        recall=dated.recall,
        archival=dated.archival,
        clock=ManualClock(T0),
    )
    list(agent.run())  # the greeting
    list(agent.chat("What did the glacier committee decide in May 2021?"))
    results = [m.content for m in backend.calls[-1].messages if "archival matches" in m.content]
    assert results and "approved the new hut" in results[-1]
    assert "crevasses" not in results[-1] and "dawn" not in results[-1]
