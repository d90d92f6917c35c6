"""`engram models list|add|use` on real files: the built-in GGUF (in the catalogue), a small
valid GGUF that is not, a damaged file that claims a catalogue name, and settings.json."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from app.__main__ import main
from app.config import Settings
from app.llm import catalogue
from app.llm.models import default_model_path


def tiny_gguf(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)

    def text(value: str) -> bytes:
        return struct.pack("<Q", len(value)) + value.encode()

    kv = text("general.architecture") + struct.pack("<I", 8) + text("llama")
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + kv)
    return path


def test_the_manifest_is_valid_and_lists_the_builtin_model() -> None:
    manifest = catalogue.load_manifest()
    (entry,) = [m for m in manifest.models if m.name == catalogue.BUILTIN]
    assert entry.file == default_model_path().name
    assert entry.size_bytes == default_model_path().stat().st_size


def test_list_shows_the_catalogue_and_what_is_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "In use: smollm2-135m-instruct (built-in)" in out
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in out


def test_add_verifies_the_checksum_then_use_writes_settings(
    engram_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "add", str(default_model_path())]) == 0
    assert "matches the catalogue" in capsys.readouterr().out
    (record,) = catalogue.load_registry(engram_home).models
    assert record.verified and record.name == catalogue.BUILTIN

    other = tiny_gguf(engram_home / "My Model.Q4.gguf")
    assert main(["models", "add", str(other)]) == 0
    assert "not in the catalogue" in capsys.readouterr().out
    assert main(["models", "use", "my-model.q4"]) == 0
    assert Settings.load(engram_home).model_path == str(other.resolve())
    assert main(["models", "list"]) == 0
    assert f"In use: {other.resolve()}" in capsys.readouterr().out

    assert main(["models", "use", catalogue.BUILTIN]) == 0
    assert Settings.load(engram_home).model_path is None
    saved = json.loads((engram_home / "settings.json").read_text())
    assert saved["model_path"] is None


def test_a_damaged_catalogue_file_is_refused(
    engram_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = tiny_gguf(engram_home / default_model_path().name)  # right name, wrong bytes
    assert main(["models", "add", str(fake)]) == 1
    assert "does not match the catalogue's checksum" in capsys.readouterr().err
    assert catalogue.load_registry(engram_home).models == []


def test_bad_inputs_are_one_sentence_errors(
    engram_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "use", "nope"]) == 1
    assert "No model called 'nope'" in capsys.readouterr().err
    text = engram_home / "notes.gguf"  # the data dir exists by now
    text.write_text("hello")
    assert main(["models", "add", str(text)]) == 1
    assert "not a GGUF model file" in capsys.readouterr().err
    assert Settings.load(engram_home).model_path is None
