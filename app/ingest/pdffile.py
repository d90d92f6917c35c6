"""PDF pages as sections, one page at a time, with pypdf.

The reader is given an open file rather than a path, because pypdf copies a path's whole file
into memory; pages are parsed and extracted one by one as the caller pulls them. A page that
fails to extract is noted and skipped: one bad page must not lose the other 999.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

from app.core.errors import IngestError
from app.ingest.sections import RawSection


def read_pdf(path: Path, notes: list[str]) -> Iterator[RawSection]:
    """Each page's text as a section located "page N"; pages without text give nothing."""
    with path.open("rb") as stream:
        reader = _open(stream, path.name)
        for number in range(1, len(reader.pages) + 1):
            try:
                text = reader.pages[number - 1].extract_text()
            # pypdf raises many kinds of error on damaged content streams.
            except Exception as err:
                notes.append(f"Page {number} of {path.name} could not be read ({err}); skipped.")
                continue
            yield RawSection(text.replace("\x00", ""), f"page {number}", page=number)


def pdf_creation_date(path: Path) -> datetime | None:
    """The creation date in the PDF's metadata (else its modification date), if readable."""
    with path.open("rb") as stream:
        metadata = _open(stream, path.name).metadata
        if metadata is None:
            return None
        return metadata.creation_date or metadata.modification_date


def _open(stream: BinaryIO, name: str) -> PdfReader:
    """A reader whose page tree is known to load, or IngestError in one sentence."""
    try:
        reader = PdfReader(stream, strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise IngestError(
                f"{name} is encrypted.",
                hint="Save a copy without a password and add that instead.",
            )
        len(reader.pages)  # loads the page tree, where a broken file usually fails
    except IngestError:
        raise
    except DependencyError as err:
        raise IngestError(
            f"{name} is encrypted.",
            hint="Reading AES-encrypted PDFs needs the 'cryptography' package; "
            "or save a copy without a password.",
        ) from err
    except Exception as err:  # any parse failure means the same to a user
        raise IngestError(
            f"{name} is not a readable PDF.", hint="It may be damaged, or not really a PDF."
        ) from err
    return reader
