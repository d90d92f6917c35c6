"""Creating an agent: starter memory blocks and the login event its first reply answers."""

from __future__ import annotations

from dataclasses import replace

from app.core.context import new_event
from app.core.messages import AgentInfo, Block, Kind
from app.core.prompts import (
    DEFAULT_HUMAN,
    DEFAULT_PERSONA,
    FIRST_GREETING,
    HUMAN_LIMIT,
    PERSONA_LIMIT,
)
from app.core.protocols import Clock, RecallStore


def create_agent(
    recall: RecallStore,
    clock: Clock,
    name: str,
    *,
    persona: str = DEFAULT_PERSONA,
    human: str = DEFAULT_HUMAN,
) -> AgentInfo:
    """Store a new agent with persona/human blocks and a first login event."""
    now = clock.now()
    blocks = [Block("persona", persona, PERSONA_LIMIT), Block("human", human, HUMAN_LIMIT)]
    info = recall.create_agent(name, blocks, now)
    login = new_event(Kind.LOGIN, f'First login. Greet the user, e.g. "{FIRST_GREETING}"', now)
    recall.append(info.id, [replace(login, text="")])  # a prompt for the model, not conversation
    return info


def get_or_create_agent(recall: RecallStore, clock: Clock, name: str) -> tuple[AgentInfo, bool]:
    """The agent called `name` (or with that id), created on first use."""
    found = recall.get_agent(name)
    if found is not None:
        return found, False
    return create_agent(recall, clock, name), True
