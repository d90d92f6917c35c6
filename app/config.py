"""Where Engram keeps its data and what it runs with.

One `data_dir()` for every path (ENGRAM_HOME overrides it, tests always set it), created 0700
so a private journal is never world-readable. Settings are a pydantic model at this edge.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import BaseModel, ConfigDict, Field

SETTINGS_FILE = "settings.json"


def data_dir() -> Path:
    """The one directory all of Engram's data lives in (created private on first use)."""
    root = Path(os.environ.get("ENGRAM_HOME") or user_data_dir("engram", appauthor=False))
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if root.stat().st_mode & 0o077:
        root.chmod(0o700)
    return root


def private_files() -> None:
    """Every file Engram (and the libraries it drives, LanceDB included) creates from now on
    is readable by the user alone: 0600 files, 0700 folders."""
    os.umask(0o077)


def set_offline_switches() -> None:
    """Engram never calls a model hub: tell every library so before it is imported."""
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ[key] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # no "Loading weights" progress bars on the user's terminal: local weights load in <1 s
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class Settings(BaseModel):
    """User settings, stored as JSON in the data dir."""

    model_config = ConfigDict(extra="forbid")

    model_path: str | None = None  # None: the built-in demo model
    context_window: int | None = Field(default=None, ge=512)  # None: min(model's, default cap)
    gpu_layers: int | None = None  # None: automatic
    threads: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_steps: int = Field(default=10, ge=1, le=100)
    default_agent: str = "engram"
    journal_follow_ups: bool = False  # a follow-up question after a journal entry
    journal_auto_reviews: bool = True  # weekly/monthly reviews written at the next launch

    @classmethod
    def load(cls, root: Path | None = None) -> Settings:
        path = (root or data_dir()) / SETTINGS_FILE
        if not path.exists():
            return cls()
        return cls.model_validate(json.loads(path.read_text(encoding="utf-8")))

    def save(self, root: Path | None = None) -> None:
        path = (root or data_dir()) / SETTINGS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
