"""The model catalogue: the manifest of known GGUFs and the user's own list of added files.

`models/manifest.json` (shipped) names recommended models with their file name, size, sha256,
licence, context, chat format and minimum VRAM. `<data dir>/models.json` (the user's) records
the files added with `engram models add`, by name, so `engram models use NAME` can pick one.
A file is matched to the manifest by its size and sha256 (a renamed download still matches);
a file whose *name* is in the manifest but whose checksum differs is refused, since it is
damaged or not what it claims. Nothing here downloads anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.core.errors import InputError, ModelError
from app.llm.models import GGUFInfo, check_gguf, default_model_path

MANIFEST = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
REGISTRY_FILE = "models.json"
BUILTIN = "smollm2-135m-instruct"
CHUNK = 8 * 1024 * 1024


class ManifestEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    file: str
    size_bytes: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    licence: str
    context: int
    chat_format: str
    min_vram_gb: float
    builtin: str | None = None
    note: str = ""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    models: list[ManifestEntry]


class Registered(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    sha256: str
    verified: bool  # matched a manifest entry's size and checksum


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[Registered] = []


def load_manifest(path: Path = MANIFEST) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return Manifest(version=1, models=[])
    except (OSError, ValidationError) as err:
        raise ModelError(f"The model manifest {path} is unreadable or malformed ({err}).") from err


def load_registry(root: Path) -> Registry:
    path = root / REGISTRY_FILE
    if not path.exists():
        return Registry()
    try:
        return Registry.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as err:
        raise InputError(f"{path} is damaged ({err}); delete it and add the models again.") from err


def save_registry(root: Path, registry: Registry) -> None:
    path = root / REGISTRY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(registry.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, manifest: Manifest) -> tuple[GGUFInfo, str, ManifestEntry | None]:
    """Header check, checksum, and the manifest entry it matches (None: unknown model).
    Raises ModelError when the file claims a manifest name but does not match it."""
    info = check_gguf(path)
    digest = sha256_of(info.path)
    for entry in manifest.models:
        if entry.sha256 == digest and entry.size_bytes == info.file_size:
            return info, digest, entry
    for entry in manifest.models:
        if entry.file == info.path.name:
            raise ModelError(
                f"{info.path.name} does not match the catalogue's checksum for {entry.name} "
                f"(sha256 {digest[:12]}…, expected {entry.sha256[:12]}…).",
                hint="The download is damaged or a different file: download it again.",
            )
    return info, digest, None


def add(root: Path, path: Path, manifest: Manifest) -> Registered:
    """Verify a GGUF and record it under its catalogue name (or its file name)."""
    info, digest, entry = verify(path, manifest)
    name = entry.name if entry else _slug(info.path.stem)
    registry = load_registry(root)
    kept = [m for m in registry.models if m.name != name]
    record = Registered(name=name, path=str(info.path.resolve()), sha256=digest,
                        verified=entry is not None)  # fmt: skip
    save_registry(root, Registry(models=[*kept, record]))
    return record


def resolve(root: Path, name: str) -> Path | None:
    """The file for a registered name; None for the built-in model."""
    if name == BUILTIN:
        return None
    for model in load_registry(root).models:
        if model.name == name:
            return Path(model.path)
    known = ", ".join([BUILTIN, *(m.name for m in load_registry(root).models)])
    raise InputError(f"No model called '{name}'. Known: {known}. Add one with `models add`.")


def builtin_path() -> Path | None:
    try:
        return default_model_path()
    except ModelError:
        return None


def _slug(stem: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", stem.lower()).strip("-") or "model"


def manifest_json(manifest: Manifest) -> str:
    return json.dumps(manifest.model_dump(), indent=2)
