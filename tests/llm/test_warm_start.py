"""Warm start on the real tiny model: the static prefix's KV state is saved, restored on the
next launch (fewer evaluated tokens, same output), and rebuilt when anything changes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm.llamacpp import LlamaCppBackend
from app.llm.warm_start import state_path

pytestmark = pytest.mark.model

INSTRUCTIONS = "You are Engram, a careful assistant with long-term memory. " * 12
CORE = "### Core memory\npersona: kind, brief.\nhuman: Dana, a nurse in Lisbon.\n"


def prompts(core: str = CORE) -> tuple[list[ChatMessage], list[ChatMessage]]:
    full = [
        ChatMessage("system", f"{INSTRUCTIONS}\n{core}\n### Memory statistics\n3 messages"),
        ChatMessage("user", "What is my job?"),
    ]
    variant = [ChatMessage("system", f"{INSTRUCTIONS}\n{core}\n### Memory statistics\n-")]
    return full, variant


def new_launch(backend: LlamaCppBackend) -> None:
    """What a fresh process has: an empty KV cache."""
    llm: Any = backend._model()
    llm.reset()
    llm._ctx.kv_cache_clear()


def generate(backend: LlamaCppBackend, messages: list[ChatMessage]) -> Completion:
    params = SamplingParams(max_tokens=12, temperature=0.0)
    final = list(backend.stream(messages, schema=None, params=params))[-1]
    assert isinstance(final, Completion)
    return final


def start(backend: LlamaCppBackend, cache: Path, core: str = CORE, **kw: Any) -> Any:
    full, variant = prompts(core)
    return backend.warm_start(full, variant, agent_id="agent-1", cache_dir=cache, **kw)


def test_the_second_launch_restores_the_prefix(smol: LlamaCppBackend, tmp_path: Path) -> None:
    new_launch(smol)
    cold = generate(smol, prompts()[0])  # reference: no warm start at all
    new_launch(smol)
    first = start(smol, tmp_path)
    assert first.outcome == "saved" and first.prefix_tokens > 100
    assert start(smol, tmp_path).outcome == "cached"  # already in the live KV cache

    new_launch(smol)
    second = start(smol, tmp_path)
    assert second.outcome == "restored" and second.prefix_tokens == first.prefix_tokens
    warm = generate(smol, prompts()[0])
    assert warm.evaluated_prompt_tokens <= warm.prompt_tokens - second.prefix_tokens + 1
    assert cold.evaluated_prompt_tokens == cold.prompt_tokens
    assert warm.text == cold.text  # the restored state is the same computation


def test_a_changed_core_memory_rebuilds_the_state(smol: LlamaCppBackend, tmp_path: Path) -> None:
    new_launch(smol)
    assert start(smol, tmp_path).outcome == "saved"
    new_launch(smol)
    changed = CORE.replace("a nurse", "a surgeon")
    assert start(smol, tmp_path, changed).outcome == "saved"  # stale: recomputed
    new_launch(smol)
    assert start(smol, tmp_path, changed).outcome == "restored"
    assert len(list((tmp_path / "kv").iterdir())) == 1  # one file per agent and model


def test_a_damaged_state_is_recomputed_not_loaded(
    smol: LlamaCppBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    new_launch(smol)
    start(smol, tmp_path)
    (path,) = (tmp_path / "kv").iterdir()
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 0xFF
    path.write_bytes(bytes(blob))
    new_launch(smol)
    with caplog.at_level(logging.WARNING, logger="engram.llm"):
        assert start(smol, tmp_path).outcome == "saved"
    assert "damaged" in caplog.text
    assert generate(smol, prompts()[0]).finish_reason in ("stop", "length")


def test_over_the_cap_nothing_is_written_and_the_log_says_so(
    smol: LlamaCppBackend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    new_launch(smol)
    with caplog.at_level(logging.INFO, logger="engram.llm"):
        result = start(smol, tmp_path, cap_bytes=1024)
    assert result.outcome == "too-large" and result.state_bytes > 1024
    assert "over the" in caplog.text and "cap; not saved" in caplog.text
    assert not state_path(tmp_path, "agent-1", "x").parent.exists()
