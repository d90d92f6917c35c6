from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.core.agent import Agent, AgentConfig
from app.core.bootstrap import create_agent
from app.core.clock import ManualClock
from app.core.context import ContextConfig
from app.llm.scripted import ScriptedBackend
from app.memory.sqlite_store import SqliteStore
from tests.fakes import InMemoryArchival


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "engram.db")
    yield s
    s.close()


@pytest.fixture
def archival() -> InMemoryArchival:
    return InMemoryArchival()


MakeAgent = Callable[..., Agent]


@pytest.fixture
def make_agent(store: SqliteStore, archival: InMemoryArchival, clock: ManualClock) -> MakeAgent:
    """Build an agent over real SQLite, with a ScriptedBackend; greet already done unless asked."""

    def make(
        backend: ScriptedBackend,
        *,
        name: str = "test",
        greet: bool = True,
        max_steps: int = 10,
        context: ContextConfig | None = None,
    ) -> Agent:
        info = store.get_agent(name) or create_agent(store, clock, name)
        agent = Agent(
            info.id,
            backend=backend,
            recall=store,
            archival=archival,
            clock=clock,
            config=AgentConfig(max_steps=max_steps, context=context or ContextConfig()),
        )
        if greet and agent.awaiting_reply:
            backend.enqueue(
                {
                    "inner_thoughts": "greet",
                    "function": "send_message",
                    "arguments": {"message": "Hello!"},
                }
            )
            list(agent.run())
        return agent

    return make
