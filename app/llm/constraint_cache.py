"""Compiled constraints on disk, so a new process does not pay the index build again.

Compiling the step schema into an outlines-core `Index` walks the whole vocabulary through the
schema's automaton: 1.7 s for SmolLM2's 49k tokens, 24 s measured for Gemma's 262k. The result
depends only on the vocabulary and the schema, so it is stored as
`<cache>/constraints/<vocabulary hash>-<schema hash>.idx`: a JSON header (both hashes, the
outlines-core version, the payload's sha256) and the Index's own binary serialisation.

Anything wrong with a file (truncated, edited, written by another outlines-core) means: log,
delete, rebuild. A cache must never be the reason an agent cannot start, and a damaged payload
is never handed to the deserialiser unchecked.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

log = logging.getLogger("engram.llm")

MAGIC = b"ENGRAMIDX1\n"
FOLDER = "constraints"


def _outlines_core_version() -> str:
    try:
        return importlib.metadata.version("outlines_core")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def index_path(cache_dir: Path, vocabulary: str, schema_text: str) -> Path:
    schema = hashlib.sha256(schema_text.encode()).hexdigest()[:32]
    return cache_dir / FOLDER / f"{vocabulary[:32]}-{schema}.idx"


def _header(vocabulary: str, schema_text: str, payload: bytes) -> dict[str, Any]:
    return {
        "vocabulary": vocabulary,
        "schema": hashlib.sha256(schema_text.encode()).hexdigest(),
        "outlines_core": _outlines_core_version(),
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


def load_index(cache_dir: Path, vocabulary: str, schema_text: str) -> Any | None:
    """The cached Index, or None when absent, stale or damaged (a damaged file is deleted)."""
    path = index_path(cache_dir, vocabulary, schema_text)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("constraint cache: cannot read %s (%s); rebuilding", path.name, err)
        return None
    try:
        if not blob.startswith(MAGIC):
            raise ValueError("not a constraint cache file")
        (length,) = struct.unpack_from("<I", blob, len(MAGIC))
        start = len(MAGIC) + 4
        header = json.loads(blob[start : start + length])
        payload = blob[start + length :]
        if header != _header(vocabulary, schema_text, payload):
            raise ValueError("header does not match (stale or damaged)")
        from outlines_core import Index

        return Index.from_binary(payload)
    except Exception as err:  # struct/JSON/Unicode errors, outlines-core's ValueError
        log.warning("constraint cache: %s is unusable (%s); rebuilding", path.name, err)
        with contextlib.suppress(OSError):
            path.unlink()
        return None


def save_index(cache_dir: Path, vocabulary: str, schema_text: str, index: Any) -> None:
    """Write an Index atomically; failures are logged, never raised."""
    path = index_path(cache_dir, vocabulary, schema_text)
    try:
        payload = index.__reduce__()[1][0]
        if not isinstance(payload, bytes):
            raise TypeError("outlines-core did not serialise the index to bytes")
        header = json.dumps(_header(vocabulary, schema_text, payload)).encode()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(MAGIC + struct.pack("<I", len(header)) + header + payload)
        os.replace(tmp, path)
    except (OSError, TypeError, IndexError, AttributeError) as err:
        log.warning("constraint cache: could not save %s (%s)", path.name, err)
