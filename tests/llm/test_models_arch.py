"""A GGUF that llama.cpp can read but that cannot chat is named for what it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.errors import ModelError
from app.llm.models import check_gguf
from tests.data.bad.corpus import synthetic_gguf


@pytest.mark.parametrize(("arch", "words"), [("clip", "vision projector"), ("bert", "embedding")])
def test_non_chat_architectures_are_refused_by_name(tmp_path: Path, arch: str, words: str) -> None:
    path = tmp_path / f"{arch}.gguf"
    path.write_bytes(synthetic_gguf(arch, "some model"))
    with pytest.raises(ModelError, match="not a chat model") as caught:
        check_gguf(path)
    assert words in caught.value.user_message


def test_a_chat_architecture_passes(tmp_path: Path) -> None:
    path = tmp_path / "llama.gguf"
    path.write_bytes(synthetic_gguf("llama", "tiny llama"))
    assert check_gguf(path).architecture == "llama"
