"""A GGUF that llama.cpp can read but that cannot chat is named for what it is."""

from __future__ import annotations

import struct
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


def _s(text: str) -> bytes:
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_with_tokens(tokens: list[str], name: str = "tiny") -> bytes:
    """A header-only GGUF v3 with a `tokenizer.ggml.tokens` string array."""
    kvs = [
        _s("general.architecture") + struct.pack("<I", 8) + _s("llama"),
        _s("general.name") + struct.pack("<I", 8) + _s(name),
        _s("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, len(tokens))
        + b"".join(_s(t) for t in tokens),
    ]
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs)


def test_the_vocabulary_digest_follows_the_tokens_only(tmp_path: Path) -> None:
    """The digest keys compiled constraints on disk: the same vocabulary in another file (or
    renamed) must share them, a different vocabulary must not."""
    digests = []
    for i, (tokens, name) in enumerate(
        [(["a", "b", "<eos>"], "one"), (["a", "b", "<eos>"], "two"), (["a", "c", "<eos>"], "one")]
    ):
        path = tmp_path / f"{i}.gguf"
        path.write_bytes(gguf_with_tokens(tokens, name))
        digests.append(check_gguf(path).vocab_digest)
    assert len(digests[0]) == 64
    assert digests[0] == digests[1] != digests[2]


def test_a_token_list_cut_short_is_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.gguf"
    path.write_bytes(gguf_with_tokens(["alpha", "beta", "gamma"])[:-3])
    with pytest.raises(ModelError, match="truncated or corrupt"):
        check_gguf(path)
