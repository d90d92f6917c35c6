"""Held core-memory edits: what counts as a bulk destructive edit, and where proposals live.

A small model (or a document it read) can ask to wipe a block in one call. Every applied edit
is undoable, but a user who does not look at the history would still see their assistant
forget them. So an edit by the model that removes most of a block is not applied: it becomes a
proposal the user accepts or rejects (the terminal's /proposals, the GUI's memory inspector).
Proposals are kept in the agent's persisted context state, so they survive a restart and need
no schema change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from difflib import SequenceMatcher
from typing import Any

from app.core.protocols import RecallStore

# An edit is held when it removes more than this fraction of the block's characters...
BULK_REMOVAL_FRACTION = 0.5
# ...and at least this many characters: replacing a short starter text ("Nothing is known
# about the user yet.") is the normal first edit, and it stays undoable anyway.
BULK_MIN_CHARS = 100
MAX_PENDING = 20  # older proposals are dropped (the block was never changed by them)

_KEY = "memory_proposals"
_SEQ = "memory_proposal_seq"


@dataclass(frozen=True)
class Proposal:
    """A model's edit waiting for the user: applying it turns `old_value` into `new_value`."""

    id: int
    label: str
    old_value: str
    new_value: str
    actor: str
    created_at: str  # ISO 8601, as stored

    def removed(self) -> int:
        return removed_chars(self.old_value, self.new_value)


def removed_chars(old: str, new: str) -> int:
    """Characters of `old` that do not survive into `new` (in order), by longest matches."""
    if not old:
        return 0
    if old in new:
        return 0
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    kept = sum(block.size for block in matcher.get_matching_blocks())
    return len(old) - kept


def is_bulk_removal(old: str, new: str) -> bool:
    """Would going from `old` to `new` erase most of a block worth protecting?"""
    gone = removed_chars(old, new)
    return gone >= BULK_MIN_CHARS and gone > BULK_REMOVAL_FRACTION * len(old)


class ProposalBook:
    """Pending proposals of one agent, read from and written to its context state."""

    def __init__(self, agent_id: str, store: RecallStore) -> None:
        self._agent_id = agent_id
        self._store = store

    def pending(self) -> list[Proposal]:
        extra = self._store.get_state(self._agent_id).extra
        return [_proposal(row) for row in extra.get(_KEY, [])]

    def add(self, label: str, old: str, new: str, actor: str, when: datetime) -> Proposal:
        extra = self._store.get_state(self._agent_id).extra
        seq = int(extra.get(_SEQ, 0)) + 1
        proposal = Proposal(seq, label, old, new, actor, when.isoformat())
        rows = [*extra.get(_KEY, []), asdict(proposal)][-MAX_PENDING:]
        self._store.update_state_extra(self._agent_id, **{_KEY: rows, _SEQ: seq})
        return proposal

    def take(self, proposal_id: int) -> Proposal | None:
        """Remove a proposal and return it (None when there is no such pending proposal)."""
        found = [p for p in self.pending() if p.id == proposal_id]
        if not found:
            return None
        rest = [asdict(p) for p in self.pending() if p.id != proposal_id]
        self._store.update_state_extra(self._agent_id, **{_KEY: rest})
        return found[0]


def _proposal(row: dict[str, Any]) -> Proposal:
    return Proposal(
        int(row["id"]),
        str(row["label"]),
        str(row["old_value"]),
        str(row["new_value"]),
        str(row["actor"]),
        str(row["created_at"]),
    )
