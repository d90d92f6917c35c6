"""scripts/bench_ui.py runs end to end (real tiny model, MiniLM, LanceDB) and ends with its
JSON line. Timings are reported, never asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.embed, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_ui.py"


def test_bench_ui_quick_prints_the_lag_and_visible_figures(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ENGRAM_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--pages", "8"],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert {"ui_lag_p99_ms", "window_visible_s"} <= set(result)
    assert result["window_visible_s"] > 0 and result["ui_lag_p99_ms"] >= 0
    assert set(result["ui_lag_p99_by_phase_ms"]) == {
        "model load",
        "generate",
        "ingest",
        "generate + ingest",
    }
    assert any(line.startswith("phase") for line in lines)
