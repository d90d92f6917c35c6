"""Word (.docx) documents: paragraphs under their heading path, tables as rows of text.

A .docx is a zip archive, and python-docx unpacks it whole, so the archive's declared sizes
are checked first: a zip bomb is refused before anything is decompressed. (zipfile never
yields more than a member's declared size, so the declared sizes are a real bound.)
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree

import docx
from docx.styles.style import BaseStyle
from docx.table import Table, _Row
from docx.text.paragraph import Paragraph

from app.core.errors import IngestError
from app.ingest.sections import RawSection, heading_title

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # far beyond any text document, images included
MAX_MEMBER_RATIO = 100  # XML compresses ~10-30x; a bomb compresses ~1000x
RATIO_CHECK_BYTES = 10 * 1024 * 1024  # small members may compress well without harm
MAX_CORE_XML_BYTES = 1024 * 1024
_HEADING_STYLE = re.compile(r"Heading ([1-9])")
_DCTERMS_CREATED = "{http://purl.org/dc/terms/}created"
_DCTERMS_MODIFIED = "{http://purl.org/dc/terms/}modified"


def check_archive(path: Path) -> None:
    """Refuse a file that is not a zip archive or would unpack to far too much data."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as err:
        raise IngestError(
            f"{path.name} is not a readable Word document.",
            hint="It may be damaged, or an older .doc file; save it as .docx.",
        ) from err
    total = sum(member.file_size for member in members)
    bomb = any(
        member.file_size > RATIO_CHECK_BYTES
        and member.file_size > MAX_MEMBER_RATIO * max(member.compress_size, 1)
        for member in members
    )
    if total > MAX_UNZIPPED_BYTES or bomb:
        raise IngestError(
            f"{path.name} would unpack to {total // (1024 * 1024)} MB, far more than a document"
            " holds, so it was not opened.",
            hint="It may be a zip bomb.",
        )


def read_docx(path: Path, notes: list[str]) -> Iterator[RawSection]:
    """Body paragraphs ("paragraph N") and table rows ("table T, row R") in document order."""
    check_archive(path)
    try:
        document = docx.Document(str(path))
    # python-docx raises KeyError, ValueError, lxml errors... for a broken package.
    except Exception as err:
        raise IngestError(
            f"{path.name} is not a readable Word document.",
            hint="It may be damaged; try opening and saving it again in Word.",
        ) from err
    stack: list[tuple[int, str]] = []
    paragraphs = tables = 0
    for block in document.iter_inner_content():
        heading = " > ".join(title for _, title in stack)
        if isinstance(block, Table):
            tables += 1
            for number, row in enumerate(block.rows, start=1):
                yield RawSection(_row_text(row), f"table {tables}, row {number}", heading)
            continue
        level = heading_level(block)
        text = block.text.strip()
        if level is not None:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.extend([(level, heading_title(text))] if text else [])
        elif text:
            paragraphs += 1
            yield RawSection(text, f"paragraph {paragraphs}", heading)


def heading_level(paragraph: Paragraph) -> int | None:
    """0 for a Title, 1-9 for Heading 1-9 (or a style based on one), None for body text."""
    style: BaseStyle | None = paragraph.style
    for _ in range(5):  # custom heading styles are usually based on a built-in one
        if style is None:
            return None
        name = style.name or ""
        if name == "Title":
            return 0
        if match := _HEADING_STYLE.fullmatch(name):
            return int(match.group(1))
        style = getattr(style, "base_style", None)
    return None


def _row_text(row: _Row) -> str:
    """The row's non-empty cells joined by " | "; a merged cell appears once."""
    cells: list[str] = []
    previous: object = None
    for cell in row.cells:
        text = " ".join(cell.text.split())
        if text and cell._tc is not previous:
            cells.append(text)
        previous = cell._tc
    return " | ".join(cells)


def docx_creation_date(path: Path) -> datetime | None:
    """`dcterms:created` from docProps/core.xml (python-docx's core_properties.created), else
    `dcterms:modified`, read straight from the archive so the body is not parsed twice."""
    check_archive(path)
    with zipfile.ZipFile(path) as archive:
        try:
            info = archive.getinfo("docProps/core.xml")
        except KeyError:
            return None
        if info.file_size > MAX_CORE_XML_BYTES:
            return None
        root = ElementTree.fromstring(archive.read(info))
    for tag in (_DCTERMS_CREATED, _DCTERMS_MODIFIED):
        found = root.find(tag)
        if found is not None and found.text and found.text.strip():
            return datetime.fromisoformat(found.text.strip())
    return None
