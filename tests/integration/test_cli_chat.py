"""`engram chat` as a user runs it: a real process, a pipe for stdin, a temp data dir."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def engram(home: Path, *args: str, stdin: bytes = b"", timeout: float = 600) -> tuple[int, str]:
    env = {**os.environ, "ENGRAM_HOME": str(home)}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        env=env,
        timeout=timeout,
    )
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


@pytest.mark.model
def test_piped_session_on_the_built_in_model(tmp_path: Path) -> None:
    script = b"hi, I am Sam\n/memory\n\xff\xfe not UTF-8\n/exit\n"
    code, out = engram(tmp_path, "chat", stdin=script)
    assert code == 0, out
    assert out.count("engram> ") >= 2  # the greeting and the reply to "hi"
    assert "[persona]" in out and "[human]" in out and "recall: " in out
    assert "Traceback" not in out
    assert "Loading weights" not in out and "it/s]" not in out  # no library progress bars
    # a second start finds the same agent and the same history
    code, again = engram(tmp_path, "chat", stdin=b"/search Sam\n/exit\n")
    assert code == 0 and "user: hi, I am Sam" in again, again
    note = tmp_path / "note.txt"
    note.write_text("Maya plays the cello in Porto.\n", encoding="utf-8")
    assert engram(tmp_path, "ingest", str(note))[0] == 0
    code, found = engram(tmp_path, "search", "cello")
    assert code == 0 and "Maya plays the cello" in found, found
    assert "Loading weights" not in found and "it/s]" not in found, found


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "was not found"),
        (b"just some text, not a model\n" * 100, "not a GGUF"),
        (b"GGUF\x03\x00\x00\x00" + b"\x00" * 10, "truncated"),
    ],
)
def test_a_bad_model_file_is_one_clear_sentence(
    tmp_path: Path, content: bytes | None, expected: str
) -> None:
    model = tmp_path / "model.gguf"
    if content is not None:
        model.write_bytes(content)
    code, out = engram(tmp_path / "home", "chat", "--model", str(model), stdin=b"hi\n")
    assert code == 1
    assert out.startswith("engram: ") and "Traceback" not in out, out
    assert expected.lower() in out.lower(), out
