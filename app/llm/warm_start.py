"""Warm start: the KV state of an agent's static prompt prefix, kept on disk between launches.

Why: every prompt starts with the same instructions, function list and core memory (about
1,500 tokens with the default toolbox). Computing their KV cache costs seconds on a CPU at each
launch (3.8 s measured for SmolLM2-135M, far more for a 7B model); restoring a saved state costs
tens of milliseconds. Only that static prefix is saved, never the conversation.

One file per agent and model: `<cache>/kv/<agent>-<model key>.kv`, holding a small JSON header
and llama.cpp's raw state bytes. The model key hashes the model file's identity (resolved path,
size, modification time) and the context size, so another model or a changed file never reuses
it; the header records the prefix tokens' hash, so any change to instructions, functions or core
memory is detected and the file is rebuilt. The state bytes carry their own sha256: a damaged
file is never handed to llama.cpp, it is deleted and recomputed. States larger than the cap (a
7B model's KV for a few thousand tokens is hundreds of MB) are not written; the log says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np

if TYPE_CHECKING:
    from llama_cpp import Llama

    from app.llm.models import GGUFInfo

log = logging.getLogger("engram.llm")

MAGIC = b"ENGRAMKV1\n"
DEFAULT_CAP_BYTES = 512 * 1024**2
MIN_PREFIX_TOKENS = 16  # below this, recomputing is cheaper than a file

Outcome = Literal["cached", "restored", "saved", "too-large", "too-short", "failed"]


@dataclass(frozen=True)
class WarmStart:
    """What happened to the static prefix at agent start."""

    outcome: Outcome
    prefix_tokens: int
    state_bytes: int = 0


def model_key(info: GGUFInfo, n_ctx: int) -> str:
    """Identity of (model file, context size): a change to either invalidates saved states."""
    stat = info.path.stat()
    text = f"{info.path.resolve()}\x00{stat.st_size}\x00{stat.st_mtime_ns}\x00{n_ctx}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def tokens_digest(tokens: Sequence[int]) -> str:
    return hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()


def state_path(cache_dir: Path, agent_id: str, key: str) -> Path:
    safe = "".join(c for c in agent_id if c.isalnum() or c in "-_")[:64] or "agent"
    return cache_dir / "kv" / f"{safe}-{key}.kv"


def cached_prefix(llm: Llama, tokens: Sequence[int]) -> bool:
    """Whether the live KV cache already starts with `tokens`."""
    n = len(tokens)
    if llm.n_tokens < n:
        return False
    return bool(np.array_equal(llm.input_ids[:n], np.asarray(tokens, dtype=llm.input_ids.dtype)))


def restore(llm: Llama, tokens: Sequence[int], path: Path, key: str) -> int:
    """Load a saved prefix state into `llm`; returns its size in bytes, 0 when unusable."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(MAGIC)) != MAGIC:
                raise ValueError("not an Engram KV state file")
            (length,) = struct.unpack("<I", handle.read(4))
            header = json.loads(handle.read(length))
            data = handle.read()
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, struct.error) as err:
        _discard(path, f"unreadable ({err})")
        return 0
    if header.get("model") != key or header.get("tokens") != tokens_digest(tokens):
        return 0  # stale: another model or a changed prefix; overwritten by the next save
    if len(data) != header.get("bytes") or hashlib.sha256(data).hexdigest() != header.get("sha256"):
        _discard(path, "damaged (checksum mismatch)")
        return 0
    return _set_state(llm, tokens, data, path)


def _set_state(model: Llama, tokens: Sequence[int], data: bytes, path: Path) -> int:
    import llama_cpp

    llm: Any = model  # llama-cpp-python's methods are untyped
    llm.reset()
    buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
    if llama_cpp.llama_state_set_data(llm.ctx, buffer, len(data)) != len(data):
        llm.reset()
        llm._ctx.kv_cache_clear()
        _discard(path, "rejected by llama.cpp")
        return 0
    llm.input_ids[: len(tokens)] = np.asarray(tokens, dtype=llm.input_ids.dtype)
    llm.n_tokens = len(tokens)
    llm._requires_eval = True  # the logits of the last token are not trusted: replay it
    return len(data)


def compute_and_save(
    llm: Llama, tokens: Sequence[int], path: Path, key: str, cap_bytes: int
) -> WarmStart:
    """Evaluate the prefix from scratch and write its state (unless it exceeds the cap)."""
    import llama_cpp

    cast(Any, llm).reset()
    llm.eval(list(tokens))
    size = int(llama_cpp.llama_state_get_size(llm.ctx))
    if size > cap_bytes:
        log.info(
            "warm start: the prefix state is %.0f MB, over the %.0f MB cap; not saved",
            size / 1024**2,
            cap_bytes / 1024**2,
        )
        return WarmStart("too-large", len(tokens), size)
    buffer = (ctypes.c_uint8 * size)()
    written = int(llama_cpp.llama_state_get_data(llm.ctx, buffer, size))
    data = bytes(memoryview(buffer)[:written])
    header = json.dumps(
        {
            "model": key,
            "tokens": tokens_digest(tokens),
            "n_tokens": len(tokens),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    ).encode()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as handle:
            handle.write(MAGIC + struct.pack("<I", len(header)) + header)
            handle.write(data)
        os.replace(tmp, path)
    except OSError as err:
        log.warning("warm start: could not save the prefix state (%s)", err)
        return WarmStart("failed", len(tokens), len(data))
    log.info("warm start: saved %d prefix tokens (%.1f MB)", len(tokens), len(data) / 1024**2)
    return WarmStart("saved", len(tokens), len(data))


def _discard(path: Path, why: str) -> None:
    log.warning("warm start: %s is %s; recomputing", path.name, why)
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    x, y = np.asarray(a[:n]), np.asarray(b[:n])
    differs = np.flatnonzero(x != y)
    return int(differs[0]) if differs.size else n


def warm_start(
    llm: Llama,
    tokens: Sequence[int],
    *,
    cache_dir: Path,
    agent_id: str,
    key: str,
    cap_bytes: int = DEFAULT_CAP_BYTES,
) -> WarmStart:
    """Make the KV cache start with `tokens`: already there, restored, or computed + saved."""
    if len(tokens) < MIN_PREFIX_TOKENS:
        return WarmStart("too-short", len(tokens))
    if cached_prefix(llm, tokens):
        return WarmStart("cached", len(tokens))
    path = state_path(cache_dir, agent_id, key)
    size = restore(llm, tokens, path, key)
    if size:
        log.info("warm start: restored %d prefix tokens from %s", len(tokens), path.name)
        return WarmStart("restored", len(tokens), size)
    return compute_and_save(llm, tokens, path, key, cap_bytes)
