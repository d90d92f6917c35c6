"""The compiled-constraint disk cache: round trip, and every kind of bad file means rebuild."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from outlines_core import Index, Vocabulary

from app.llm import constraints
from app.llm.constraint_cache import index_path, load_index, save_index
from app.llm.llamacpp import LlamaCppBackend

VOCAB = "f" * 64
SCHEMA = '{"enum":["ab","b"]}'


def small_index() -> Index:
    return Index('"(ab|b)"', Vocabulary(9, {'"': [1], "a": [2], "b": [3], "ab": [4]}))


def allowed(index: Index) -> list[int]:
    return sorted(index.get_allowed_tokens(index.get_initial_state()))


def test_an_index_survives_the_round_trip(tmp_path: Path) -> None:
    save_index(tmp_path, VOCAB, SCHEMA, small_index())
    loaded = load_index(tmp_path, VOCAB, SCHEMA)
    assert loaded is not None
    assert allowed(loaded) == allowed(small_index()) == [1]
    assert index_path(tmp_path, VOCAB, SCHEMA).parent.name == "constraints"


def test_another_vocabulary_or_schema_misses(tmp_path: Path) -> None:
    save_index(tmp_path, VOCAB, SCHEMA, small_index())
    assert load_index(tmp_path, "e" * 64, SCHEMA) is None
    assert load_index(tmp_path, VOCAB, '{"enum":["b"]}') is None


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # truncated
        lambda b: b[:-1] + bytes([b[-1] ^ 0xFF]),  # one flipped payload byte
        lambda b: b"junk" + b[4:],  # wrong magic
        lambda b: b[:15] + b"\xff\xff" + b[17:],  # header length garbage
        lambda b: b"",  # empty
    ],
)
def test_a_damaged_file_is_deleted_and_reported_missing(
    tmp_path: Path, damage: object, caplog: pytest.LogCaptureFixture
) -> None:
    save_index(tmp_path, VOCAB, SCHEMA, small_index())
    path = index_path(tmp_path, VOCAB, SCHEMA)
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="engram.llm"):
        assert load_index(tmp_path, VOCAB, SCHEMA) is None
    assert not path.exists()
    assert "rebuilding" in caplog.text


def test_an_unwritable_cache_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="engram.llm"):
        save_index(blocker, VOCAB, SCHEMA, small_index())
    assert "could not save" in caplog.text


YES_NO = {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}},
          "required": ["answer"]}  # fmt: skip


@pytest.mark.model
def test_a_second_start_loads_the_index_instead_of_compiling(
    smol: LlamaCppBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    llm = smol._model()
    constraints.clear_cache()
    with caplog.at_level(logging.INFO, logger="engram.llm"):
        first = constraints.ConstraintCompiler(llm, tmp_path).index(YES_NO)
    assert "compiled a" in caplog.text
    caplog.clear()
    constraints.clear_cache()  # what a new process starts with
    with caplog.at_level(logging.INFO, logger="engram.llm"):
        second = constraints.ConstraintCompiler(llm, tmp_path).index(YES_NO)
    assert "compiled a" not in caplog.text and "loaded a compiled constraint" in caplog.text
    assert allowed(first) == allowed(second)

    (file,) = (tmp_path / "constraints").iterdir()
    file.write_bytes(file.read_bytes()[:-7])  # corrupt: rebuilt, never a crash
    constraints.clear_cache()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="engram.llm"):
        third = constraints.ConstraintCompiler(llm, tmp_path).index(YES_NO)
    assert "compiled a" in caplog.text and allowed(third) == allowed(first)
    constraints.clear_cache()
