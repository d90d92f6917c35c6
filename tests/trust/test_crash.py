"""The crash-consistency harness in its short mode: SIGKILLs, then every check must hold."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.embed]
ROOT = Path(__file__).parents[2]


def test_short_crash_run_loses_nothing(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "scripts/crash_test.py", "--kills", "3", "--keep", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["kills"] == 3
    assert result["corrupt_stores"] == result["lost_acknowledged"] == 0
    assert result["unrecoverable_ingests"] == 0
    assert out.returncode == 0
