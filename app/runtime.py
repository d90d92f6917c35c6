"""The composition root's workhorse: open the stores and the model, and build agents.

Everything heavy (llama.cpp, torch, LanceDB) is imported here lazily, so `engram --help` and
the core tests stay light. Each part that can fail on bad input is opened separately so the
error names exactly what is wrong.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from app.config import Settings, data_dir, set_offline_switches
from app.core.agent import Agent, AgentConfig
from app.core.bootstrap import get_or_create_agent
from app.core.clock import SystemClock
from app.core.context import ContextConfig, render_messages
from app.core.errors import EngramError
from app.core.protocols import ArchivalStore, ChatBackend, Clock

if TYPE_CHECKING:
    from app.memory.sqlite_store import SqliteStore

log = logging.getLogger("engram")
CACHE_FOLDER = "cache"


@dataclass
class Runtime:
    """The opened parts of one Engram profile (a data dir)."""

    root: Path
    settings: Settings
    recall: SqliteStore
    archival: ArchivalStore
    clock: Clock = field(default_factory=SystemClock)
    backend: ChatBackend | None = None
    last_warm_start: object | None = None  # what the last agent's warm start did

    def agent(self, name: str | None = None) -> tuple[Agent, bool]:
        """The agent called `name` (default from settings), created on first use."""
        if self.backend is None:
            raise RuntimeError("load a model first")
        info, created = get_or_create_agent(
            self.recall, self.clock, name or self.settings.default_agent
        )
        config = AgentConfig(
            max_steps=self.settings.max_steps,
            temperature=self.settings.temperature,
            context=ContextConfig(),
        )
        agent = Agent(
            info.id,
            backend=self.backend,
            recall=self.recall,
            archival=self.archival,
            clock=self.clock,
            config=config,
        )
        self.warm_start(agent)
        return agent, created

    @property
    def cache_dir(self) -> Path:
        """Rebuildable files (KV prefix states, compiled constraints): safe to delete."""
        return self.root / CACHE_FOLDER

    def warm_start(self, agent: Agent) -> None:
        """Load (or compute and save) the KV state of the agent's static prompt prefix, so
        the first reply after a launch skips re-reading instructions and core memory."""
        prime = getattr(self.backend, "warm_start", None)
        if prime is None:
            return
        parts = agent.system_parts()
        full = render_messages(parts, self.recall.context_messages(agent.agent_id))
        variant = render_messages(replace(parts, stats="-", summary=""), [])
        try:
            outcome = prime(full, variant, agent_id=agent.agent_id, cache_dir=self.cache_dir)
        except (EngramError, OSError, RuntimeError) as err:
            log.warning("warm start skipped: %s", err)
            return
        self.last_warm_start = outcome
        log.info("warm start: %s", outcome)

    def close(self) -> None:
        closer = getattr(self.backend, "close", None)
        if closer is not None:
            closer()
        self.recall.close()


def open_stores(root: Path | None = None) -> Runtime:
    """Open the data dir's SQLite and LanceDB stores (no model yet)."""
    set_offline_switches()
    from app.memory.archival import LanceArchivalStore
    from app.memory.embedder import MiniLMEmbedder
    from app.memory.sqlite_store import SqliteStore

    root = root or data_dir()
    settings = Settings.load(root)
    recall = SqliteStore(root / "engram.db")
    archival = LanceArchivalStore(root / "archival", MiniLMEmbedder())
    return Runtime(root, settings, recall, archival)


def load_backend(
    settings: Settings, model: str | None = None, *, root: Path | None = None
) -> ChatBackend:
    """Load the chosen GGUF (command line > settings > the built-in demo model); compiled
    constraints are cached in the data dir's cache folder."""
    from app.llm.llamacpp import LlamaCppBackend
    from app.llm.models import default_model_path

    path = Path(model or settings.model_path or default_model_path()).expanduser()
    n_ctx = settings.context_window or int(os.environ.get("ENGRAM_CTX", "0")) or None
    return LlamaCppBackend.load(
        path,
        n_ctx=n_ctx,
        n_threads=settings.threads,
        n_gpu_layers=settings.gpu_layers,
        cache_dir=(root or data_dir()) / CACHE_FOLDER,
    )
