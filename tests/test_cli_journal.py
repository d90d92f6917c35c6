"""`engram journal review` and `engram journal due` on a real profile: SQLite, LanceDB and
MiniLM in ENGRAM_HOME, the model replaced by a ScriptedBackend at `load_backend`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.__main__ import main
from app.core.bootstrap import get_or_create_agent
from app.core.clock import SystemClock
from app.llm.scripted import ScriptedBackend
from app.memory.journal_store import JournalStore
from app.memory.sqlite_store import SqliteStore

NOW = datetime(2026, 3, 10, 20, 0, tzinfo=UTC)
SECRET = "xyzzy-keep-out"
REVIEW = "You had dinner with Maya and a hard deadline with Tom."


@pytest.fixture
def profile(engram_home: Path) -> str:
    """The default agent and one week of entries (one kept out of memory)."""
    engram_home.mkdir(parents=True, exist_ok=True)
    with SqliteStore(engram_home / "engram.db") as recall:
        info, _ = get_or_create_agent(recall, SystemClock(), "engram")
    with JournalStore(engram_home / "engram.db") as journal:
        journal.create(date(2026, 3, 2), NOW, "Dinner with my sister Maya.", mood=4)
        journal.create(date(2026, 3, 5), NOW, "Deadline stress with Tom.", mood=2)
        journal.create(date(2026, 3, 6), NOW, f"{SECRET} is mine alone.", keep_out=True)
    return info.id


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> ScriptedBackend:
    scripted = ScriptedBackend([REVIEW])
    monkeypatch.setattr("app.runtime.load_backend", lambda settings, model=None: scripted)
    return scripted


@pytest.mark.embed
def test_review_prints_stores_and_never_reads_kept_out_entries(
    profile: str,
    backend: ScriptedBackend,
    engram_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["journal", "due"]) == 0
    before = capsys.readouterr().out
    assert "2 reviews due:" in before
    assert "weekly   the week of 2 March 2026" in before and "monthly  March 2026" in before

    assert main(["journal", "review", "--week", "--date", "2026-03-04"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Weekly review of the week of 2 March 2026\n(2 entries,")
    assert REVIEW in out
    prompt = "\n".join(m.content for c in backend.calls for m in c.messages)
    assert "Dinner with my sister Maya." in prompt and SECRET not in prompt
    with JournalStore(engram_home / "engram.db") as journal:
        [review] = journal.reviews(profile)
    assert review.text == REVIEW and review.period.start == date(2026, 3, 2)

    assert main(["journal", "due"]) == 0
    after = capsys.readouterr().out
    assert "1 review due:" in after and "weekly" not in after


def test_bad_input_is_one_sentence(
    profile: str, backend: ScriptedBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "due", "--agent", "nobody"]) == 1
    assert "There is no agent called 'nobody'." in capsys.readouterr().err
    assert main(["journal", "review", "--month", "--date", "2025-01-10"]) == 1
    assert "no journal entries from January 2025" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["journal", "review", "--week", "--date", "tuesday"])
    assert backend.calls == []
