"""Raw llama.cpp decode speed against the length of the context behind it.

Why this exists: `bench_engine.py` compares the agent with raw `Llama` generation, and that
baseline is only fair on the same prompts as the agent's turns, because a generated token costs
more the more context it attends to (on the 2-core box: ~15 ms at 500 tokens, ~27 at 3,500 for
SmolLM2-135M). This script shows that dependence for any GGUF, with nothing of Engram in the
loop but the model loader: for each prompt length, the prompt is evaluated, then `--tokens`
tokens are generated greedily and timed (the first one excluded).

    .venv/bin/python scripts/bench_decode_context.py                     # 500..3500, 40 tokens
    .venv/bin/python scripts/bench_decode_context.py --lengths 256 2048 --model ~/m.gguf

Prints a table, then as its LAST line one JSON object: the lengths, ms per token at each, and
`slowdown` (longest ÷ shortest).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import set_offline_switches  # noqa: E402

set_offline_switches()

from app.llm.llamacpp import LlamaCppBackend  # noqa: E402
from app.llm.models import default_model_path  # noqa: E402


def prompt_tokens(backend: LlamaCppBackend, length: int) -> list[int]:
    """`length` tokens of ordinary prose (this repository's README, repeated as needed)."""
    llm = backend._model()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    tokens = list(llm.tokenize(text.encode(), add_bos=False))
    while len(tokens) < length:
        tokens += tokens
    return tokens[:length]


def ms_per_token(backend: LlamaCppBackend, prompt: list[int], tokens: int) -> float:
    """Greedy decode of `tokens` tokens after `prompt`, which the KV cache already holds."""
    llm = backend._model()
    first = 0.0
    # the cached prompt is reused (one token replayed for its logits)
    for count, _ in enumerate(llm.generate(prompt, temp=0.0), start=1):
        if count == 1:
            first = time.perf_counter()
        if count > tokens:
            break
    return 1000 * (time.perf_counter() - first) / tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a .gguf file (default: the built-in demo model)")
    parser.add_argument("--lengths", type=int, nargs="+", default=[500, 1500, 2500, 3500])
    parser.add_argument("--tokens", type=int, default=40, help="tokens timed per length")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args(argv)
    path = Path(args.model) if args.model else default_model_path()
    window = max(args.lengths) + args.tokens + 8
    backend = LlamaCppBackend.load(path, n_ctx=window, n_threads=args.threads)
    try:
        rows = []
        for length in args.lengths:
            prompt = prompt_tokens(backend, length)
            llm = backend._model()
            llm.n_tokens = 0  # what Llama.reset() does
            llm.eval(prompt)  # once: each run below starts from this cache (prefix reuse)
            runs = [ms_per_token(backend, prompt, args.tokens) for _ in range(args.repeats)]
            rows.append((length, runs))
    finally:
        backend.close()
    print(f"{'context tokens':>14}  ms per generated token ({args.repeats} runs)")
    for length, runs in rows:
        print(f"{length:>14}  " + " / ".join(f"{r:.1f}" for r in runs))
    best = [min(runs) for _, runs in rows]
    result = {
        "model": path.name,
        "threads": args.threads,
        "lengths": [length for length, _ in rows],
        "ms_per_token": [round(b, 2) for b in best],
        "slowdown": round(best[-1] / best[0], 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
