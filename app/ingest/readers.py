"""Reading a document file into a stream of citeable sections, whatever its format.

`read_document` is the one entry point: it picks the reader by extension, refuses what cannot
be read with an `IngestError` in one sentence (the other documents of a job still go in), and
reports what was read with a compromise (a skipped page, a guessed encoding) in a list of
warnings instead of failing. `document_date` finds the date a document says it was made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

from app.core.errors import IngestError
from app.ingest.docxfile import docx_creation_date, read_docx
from app.ingest.htmlfile import html_meta_date, read_html
from app.ingest.pdffile import pdf_creation_date, read_pdf
from app.ingest.sections import RawSection, Section, place
from app.ingest.textfiles import open_text, read_markdown, read_txt

Reader = Callable[[Path, list[str]], Iterator[RawSection]]
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|$)", re.DOTALL)
_DATE_LINE = re.compile(r"^date[ \t]*:[ \t]*(.+?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_HEAD_BYTES = 8192
SCANNED_HINT = "It may be scanned images; Engram cannot read text in pictures."


def _read_txt(path: Path, notes: list[str]) -> Iterator[RawSection]:
    with open_text(path, notes) as stream:
        yield from read_txt(stream)


def _read_markdown(path: Path, notes: list[str]) -> Iterator[RawSection]:
    with open_text(path, notes) as stream:
        yield from read_markdown(stream)


READERS: dict[str, Reader] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
}
SUPPORTED_SUFFIXES = frozenset(READERS)


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def read_document(path: Path, *, warnings: list[str] | None = None) -> Iterator[Section]:
    """The document's sections in reading order, streamed.

    Raises IngestError at once for a missing, empty or unsupported file, and while iterating
    for one that turns out unreadable (binary, corrupt, encrypted, a zip bomb, no text at all).
    Problems that lose only part of the document are appended to `warnings` as sentences.
    """
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise IngestError(
            f"{path.name} is not a kind of file Engram can read.",
            hint=f"Supported types: {kinds}.",
        )
    _check_file(path)
    return _stream(path, reader, warnings if warnings is not None else [])


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise IngestError(f"{path.name} was not found.") from err
    except OSError as err:
        raise IngestError(f"{path.name} could not be opened ({err.strerror}).") from err
    if not path.is_file():
        raise IngestError(f"{path.name} is not a file.")
    if size == 0:
        raise IngestError(f"{path.name} is empty.")


def _stream(path: Path, reader: Reader, notes: list[str]) -> Iterator[Section]:
    found = False
    try:
        for section in place(reader(path, notes)):
            found = True
            yield section
    except OSError as err:
        raise IngestError(f"{path.name} could not be read ({err.strerror or err}).") from err
    if not found:
        scanned = path.suffix.lower() == ".pdf"
        raise IngestError(
            f"{path.name} has no text to read.",
            hint=SCANNED_HINT if scanned else "",
        )


def document_date(path: Path, first_text: str = "") -> datetime | None:
    """When the document says it was made, in UTC: a PDF's creation (else modification)
    date, a Word file's `created` (else `modified`) property, an HTML page's date <meta>, a
    Markdown file's front matter `date:` (looked for in `first_text`, the start of the file,
    or the file itself). None when there is none or it is unreadable: the date only helps
    searching by time, so a bad one must never stop an ingest."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _utc(pdf_creation_date(path))
        if suffix == ".docx":
            return _utc(docx_creation_date(path))
        if suffix in MARKDOWN_SUFFIXES:
            return front_matter_date(first_text if first_text.strip() else _head(path))
        if suffix in HTML_SUFFIXES:
            stated = html_meta_date(path)
            return None if stated is None else parse_date(stated)
    # Metadata comes in every malformed shape; any failure just means "no date".
    except Exception:
        return None
    return None


def front_matter_date(text: str) -> datetime | None:
    """The `date:` of YAML front matter at the start of `text`; a bare day means noon UTC,
    so the day is the same in every time zone."""
    block = _FRONT_MATTER.match(text.lstrip("\ufeff"))
    line = _DATE_LINE.search(block.group(1)) if block else None
    if line is None:
        return None
    return parse_date(line.group(1))


def parse_date(text: str) -> datetime | None:
    """An ISO day or time as written in metadata, in UTC; a bare day means noon UTC, so the
    day is the same in every time zone. None when it is not one."""
    value = text.strip().strip("'\"")
    try:
        return datetime.combine(date.fromisoformat(value), time(12), tzinfo=UTC)
    except ValueError:
        pass
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        return None


def _utc(moment: datetime | None) -> datetime | None:
    """Aware and in UTC; a naive time is taken to be UTC already."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _head(path: Path) -> str:
    with path.open("rb") as stream:
        return stream.read(_HEAD_BYTES).decode("utf-8", errors="replace").replace("\r\n", "\n")
