"""The engine benchmark runs end to end (--quick) and reports every figure; calls are valid.
No timing is asserted: the numbers belong in the table, not in a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"prefix_reuse", "constraint_overhead", "agent_vs_raw", "agent_vs_raw_with_idle",
        "first_word_ratio", "first_word_ratio_same_cache", "warm_start_speedup",
        "valid_calls"}  # fmt: skip


def run_script(name: str, *args: str) -> tuple[list[str], dict[str, Any]]:
    """Run scripts/`name` as a person would; its output lines and its last line's JSON."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / name), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return lines, json.loads(lines[-1])


@pytest.mark.model
def test_quick_bench_prints_a_table_and_a_json_last_line() -> None:
    lines, result = run_script("bench_engine.py", "--quick", "--threads", "1")
    assert result.keys() >= KEYS
    assert result["valid_calls"] == 1.0
    assert result["valid_n"] >= 20
    assert all(isinstance(result[k], float) and result[k] > 0 for k in KEYS)
    assert result["prefix_reuse"] <= 1.2  # token counts, not times: the KV cache is reused
    assert any(line.startswith("prefix_reuse") for line in lines[:-1])  # the table


def test_the_raw_baseline_samples_the_whole_conversation() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_engine import spread

    calls = list(range(30))
    assert spread(calls, 30) == calls
    assert spread(calls, 4) == [0, 10, 19, 29]  # first, last and evenly between
    assert spread(calls[:3], 10) == [0, 1, 2]


@pytest.mark.model
def test_decode_context_script_prints_a_row_per_length_and_a_json_line() -> None:
    args = ["--lengths", "32", "256", "--tokens", "4", "--repeats", "1", "--threads", "1"]
    lines, result = run_script("bench_decode_context.py", *args)
    assert result["lengths"] == [32, 256]
    assert len(result["ms_per_token"]) == 2 and all(ms > 0 for ms in result["ms_per_token"])
    ratio = result["ms_per_token"][1] / result["ms_per_token"][0]
    assert result["slowdown"] == pytest.approx(ratio, rel=0.01)
    assert [line.split()[0] for line in lines[1:-1]] == ["32", "256"]  # the table
