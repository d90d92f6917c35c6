"""GPU awareness without a GPU: the layer estimate from injected VRAM figures, the one-sentence
explanation, nvidia-smi parsing, and the load retry with fewer layers (a failing constructor)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from app.core.errors import ModelError
from app.llm import gpu
from app.llm.gpu import VRAM_RESERVE, attempts, free_vram, plan_layers
from app.llm.llamacpp import LlamaCppBackend
from app.llm.models import GIB, GGUFInfo, default_model_path


def model_7b() -> GGUFInfo:
    """The shape of a 7B Q4_K_M GGUF: 32 blocks, 4.4 GB, grouped-query attention."""
    return GGUFInfo(path=Path("qwen-7b.gguf"), version=3, architecture="qwen2", name="7B",
                    context_length=32768, block_count=39, embedding_length=3584,
                    head_count=28, head_count_kv=4, tensor_count=339,
                    file_size=int(4.4 * GIB), chat_template=None)  # fmt: skip


def test_everything_fits_in_a_big_gpu() -> None:
    plan = plan_layers(model_7b(), 4096, gpu_build=True, free=24 * GIB)
    assert plan.layers == plan.total == 40
    assert plan.sentence.startswith("All 40 layers on the GPU")


def test_part_of_the_model_on_a_small_gpu() -> None:
    info = model_7b()
    plan = plan_layers(info, 4096, gpu_build=True, free=2 * GIB)
    per_layer = (info.file_size + info.kv_cache_bytes(4096)) / 40
    assert plan.layers == int((2 * GIB - VRAM_RESERVE) // per_layer)
    assert 0 < plan.layers < 40
    assert plan.sentence == (
        f"{plan.layers} of 40 layers on the GPU: the model needs ~5.3 GB, "
        "more than the free 2.0 GB."
    )


def test_more_free_memory_never_means_fewer_layers() -> None:
    counts = [plan_layers(model_7b(), 4096, gpu_build=True, free=f * GIB // 4).layers
              for f in range(0, 40)]  # fmt: skip
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] == 40


def test_cpu_build_unknown_vram_and_too_little_vram() -> None:
    info = model_7b()
    assert plan_layers(info, 4096, gpu_build=False, free=24 * GIB).layers == 0
    unknown = plan_layers(info, 4096, gpu_build=True, free=None)
    assert unknown.layers == -1 and "unknown" in unknown.sentence
    tiny = plan_layers(info, 4096, gpu_build=True, free=VRAM_RESERVE // 2)
    assert tiny.layers == 0 and tiny.sentence.startswith("CPU only")


def test_retry_order_halves_down_to_the_cpu() -> None:
    assert attempts(30, 40) == [30, 15, 7, 3, 1, 0]
    assert attempts(-1, 40) == [-1, 20, 10, 5, 2, 1, 0]
    assert attempts(0, 40) == [0]


def test_free_vram_reads_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert free_vram() is None  # no nvidia-smi at all
    tool = tmp_path / "nvidia-smi"
    tool.write_text("#!/bin/sh\necho 6144\necho 1024\n")
    tool.chmod(0o755)
    assert free_vram() == 6144 * 1024**2  # the first GPU
    tool.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    assert free_vram() is None
    assert gpu.shutil.which("nvidia-smi") == str(tool) and os.access(tool, os.X_OK)


class FailingAbove:
    """Stands in for the constructor: 'CUDA out of memory' above `limit` layers."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.tried: list[int] = []
        self.real = LlamaCppBackend._construct

    def __call__(self, llama_cpp: Any, info: GGUFInfo, n_ctx: int, threads: int,
                 layers: int) -> Any:  # fmt: skip
        self.tried.append(layers)
        if layers < 0 or layers > self.limit:
            raise ModelError("llama.cpp could not load the model.", hint="CUDA out of memory")
        return self.real(llama_cpp, info, n_ctx, threads, layers)


@pytest.mark.model
def test_a_failed_load_retries_with_fewer_layers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FailingAbove(limit=8)
    monkeypatch.setattr(LlamaCppBackend, "_construct", staticmethod(fake))
    with caplog.at_level(logging.WARNING, logger="engram.llm"):
        backend = LlamaCppBackend.load(
            default_model_path(), n_ctx=512, n_threads=1, n_gpu_layers=30
        )
    try:
        assert fake.tried == [30, 15, 7]
        assert "retrying with 15" in caplog.text and "retrying with 7" in caplog.text
        assert "loading 30 failed" in backend.gpu_sentence
    finally:
        backend.close()


@pytest.mark.model
def test_when_even_the_cpu_fails_the_error_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FailingAbove(limit=-2)  # everything fails
    monkeypatch.setattr(LlamaCppBackend, "_construct", staticmethod(fake))
    with pytest.raises(ModelError, match="could not load"):
        LlamaCppBackend.load(default_model_path(), n_ctx=512, n_threads=1, n_gpu_layers=2)
    assert fake.tried == [2, 1, 0]
