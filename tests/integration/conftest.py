"""Session-scoped real parts: the tiny GGUF and MiniLM load once for all integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_backend() -> Iterator[object]:
    from app.llm.llamacpp import LlamaCppBackend
    from app.llm.models import default_model_path

    backend = LlamaCppBackend.load(default_model_path(), n_ctx=2048)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def app_window_backend() -> Iterator[object]:
    """The same model with the app's own context window (8192), for tests about what a step
    can do rather than about eviction: in 2048 tokens every step of a 400-token reply evicts."""
    from app.llm.llamacpp import LlamaCppBackend
    from app.llm.models import default_model_path

    backend = LlamaCppBackend.load(default_model_path())
    yield backend
    backend.close()


@pytest.fixture
def real_runtime(tmp_path: Path, tiny_backend: object, minilm: object) -> Iterator[object]:
    from app.config import Settings
    from app.memory.archival import LanceArchivalStore
    from app.memory.sqlite_store import SqliteStore
    from app.runtime import Runtime

    recall = SqliteStore(tmp_path / "engram.db")
    archival = LanceArchivalStore(tmp_path / "archival", minilm)  # type: ignore[arg-type]
    runtime = Runtime(tmp_path, Settings(max_steps=4), recall, archival)
    runtime.backend = tiny_backend  # type: ignore[assignment]
    yield runtime
    recall.close()
