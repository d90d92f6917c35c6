"""GPU awareness: how many of a model's layers to offload, said in one sentence.

llama.cpp offloads whole transformer layers. When the model does not fit in the free VRAM,
asking for all of them makes the load fail (CUDA out of memory) or thrash; asking for none wastes
the GPU. The estimate here reads the GGUF's size and metadata (`GGUFInfo`) and the free VRAM:
one layer's share of the weights plus its share of the KV cache, after a fixed reserve for the
CUDA context and compute buffers. It is an estimate, so loading also retries with fewer layers
when llama.cpp fails anyway (`attempts`).

Free VRAM is read from `nvidia-smi` (a local program, no network), only when llama.cpp was built
with GPU offload; every figure can be injected, so the arithmetic is tested without a GPU.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import dataclass

from app.llm.models import GIB, GGUFInfo

log = logging.getLogger("engram.llm")

VRAM_RESERVE = 600 * 1024**2  # CUDA context, cuBLAS workspace, compute buffers
NVIDIA_SMI_TIMEOUT = 5.0


@dataclass(frozen=True)
class LayerPlan:
    """How many layers go to the GPU, and why, in words a user can act on."""

    layers: int  # for llama.cpp's n_gpu_layers
    total: int  # the model's layers, output layer included (llama.cpp's count)
    sentence: str


def free_vram() -> int | None:
    """Free memory of the first NVIDIA GPU in bytes, or None when it cannot be read."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        out = subprocess.run(
            [tool, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT,
            check=True,
        ).stdout
        return int(out.split()[0]) * 1024**2  # MiB
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def plan_layers(
    info: GGUFInfo, n_ctx: int, *, gpu_build: bool, free: int | None, reserve: int = VRAM_RESERVE
) -> LayerPlan:
    """The layers to offload: all when they fit in `free` bytes, fewer when not, none on a
    CPU build. With no VRAM figure on a GPU build, all (llama.cpp's own default)."""
    total = (info.block_count or 0) + 1
    if not gpu_build:
        return LayerPlan(0, total, "CPU only: this llama.cpp was built without GPU support.")
    if free is None:
        return LayerPlan(-1, total, "All layers on the GPU (free GPU memory unknown).")
    per_layer = (info.file_size + info.kv_cache_bytes(n_ctx)) / total
    need = info.file_size + info.kv_cache_bytes(n_ctx) + reserve
    fits = int(max(0, free - reserve) // per_layer) if per_layer > 0 else total
    if fits >= total:
        return LayerPlan(
            total,
            total,
            f"All {total} layers on the GPU (needs ~{need / GIB:.1f} GB, "
            f"{free / GIB:.1f} GB free).",
        )
    if fits == 0:
        return LayerPlan(
            0, total, f"CPU only: {free / GIB:.1f} GB of free GPU memory is too little to help."
        )
    return LayerPlan(
        fits,
        total,
        f"{fits} of {total} layers on the GPU: the model needs ~{need / GIB:.1f} GB, "
        f"more than the free {free / GIB:.1f} GB.",
    )


def attempts(layers: int, total: int) -> list[int]:
    """Layer counts to try in order when a load fails: the plan, then halving down to 0.
    -1 (all) starts from `total`. A CPU load (0) is tried once."""
    current = total if layers < 0 else layers
    order = [layers]
    while current > 0:
        current //= 2
        order.append(current)
    return order
