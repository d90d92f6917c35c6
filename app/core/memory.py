"""Core memory (MemGPT's working context): labelled blocks with character limits.

Edits go through here so the limit is enforced with a message the model can act on, and every
edit lands in the store's history with its actor, so any edit can be shown and undone.
An edit by the model that would erase most of a block is held as a proposal instead (see
app/core/proposals.py); the user accepts or rejects it.
"""

from __future__ import annotations

from datetime import datetime

from app.core.errors import InputError, ToolError
from app.core.messages import Block, BlockEdit
from app.core.proposals import Proposal, ProposalBook, is_bulk_removal
from app.core.protocols import Clock, RecallStore

MODEL_ACTOR = "agent:"  # actors starting with this are the model's function calls


class CoreMemory:
    """A live view of one agent's blocks backed by the recall store."""

    def __init__(self, agent_id: str, store: RecallStore, clock: Clock) -> None:
        self._agent_id = agent_id
        self._store = store
        self._clock = clock
        self._proposals = ProposalBook(agent_id, store)
        self._blocks = {b.label: b for b in store.get_blocks(agent_id)}
        history = store.block_history(agent_id)
        self.last_modified: datetime | None = history[0].created_at if history else None

    @property
    def blocks(self) -> list[Block]:
        return list(self._blocks.values())

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._blocks)

    def get(self, label: str) -> Block:
        if label not in self._blocks:
            raise ToolError(
                f"There is no memory block '{label}'; blocks: {', '.join(self.labels)}."
            )
        return self._blocks[label]

    def render(self) -> str:
        return "\n".join(b.render() for b in self._blocks.values())

    def append(self, label: str, content: str, actor: str) -> BlockEdit | Proposal:
        block = self.get(label)
        content = content.strip()
        if not content:
            raise ToolError("Nothing to append: content is empty.")
        new = f"{block.value}\n{content}" if block.value else content
        return self.write(label, new, actor)

    def replace(self, label: str, old: str, new: str, actor: str) -> BlockEdit | Proposal:
        block = self.get(label)
        if not old:
            raise ToolError("old_content is empty; quote the exact text to replace.")
        if old not in block.value:
            raise ToolError(
                f"'{old[:80]}' is not in {label}. Copy the exact text from the block "
                f"(it currently reads: '{block.value[:200]}')."
            )
        return self.write(label, block.value.replace(old, new, 1).strip(), actor)

    def write(self, label: str, value: str, actor: str) -> BlockEdit | Proposal:
        """Apply an edit, or hold it as a proposal when the model would erase most of the
        block, in one call or in a run of calls since the last edit by someone else."""
        block = self.get(label)
        if actor.startswith(MODEL_ACTOR) and (
            is_bulk_removal(block.value, value)
            or is_bulk_removal(self._before_model_run(label), value)
        ):
            if len(value) > block.limit:
                self.set(label, value, actor)  # raises the limit error the model can act on
            return self._proposals.add(label, block.value, value, actor, self._clock.now())
        return self.set(label, value, actor)

    def set(self, label: str, value: str, actor: str) -> BlockEdit:
        """Write a whole block value, checking the limit first."""
        block = self.get(label)
        if len(value) > block.limit:
            raise ToolError(
                f"Edit failed: {label} would be {len(value)}/{block.limit} characters. "
                "Condense it with core_memory_replace, or move details to archival_memory_insert."
            )
        edit = self._store.set_block(self._agent_id, label, value, actor, self._clock.now())
        self._blocks[label] = Block(label, value, block.limit)
        self.last_modified = edit.created_at
        return edit

    def proposals(self) -> list[Proposal]:
        """Held edits waiting for the user, oldest first."""
        return self._proposals.pending()

    def accept(self, proposal_id: int) -> BlockEdit:
        """Apply a held edit as the user's decision (undoable like any other edit)."""
        proposal = self._pending(proposal_id)
        self.reload()  # the GUI's editor may have changed the block through another view
        if self.get(proposal.label).value != proposal.old_value:
            self._proposals.take(proposal_id)
            raise InputError(
                f"Proposal #{proposal_id} no longer applies: {proposal.label} changed since; "
                "it was dropped."
            )
        edit = self.set(proposal.label, proposal.new_value, "user")
        self._proposals.take(proposal_id)
        return edit

    def reject(self, proposal_id: int) -> Proposal:
        """Drop a held edit; the block stays as it is."""
        proposal = self._pending(proposal_id)
        self._proposals.take(proposal_id)
        return proposal

    def _pending(self, proposal_id: int) -> Proposal:
        for proposal in self._proposals.pending():
            if proposal.id == proposal_id:
                return proposal
        raise InputError(f"There is no pending memory proposal #{proposal_id}.")

    def _before_model_run(self, label: str) -> str:
        """The block's value before the latest uninterrupted run of the model's edits, so a
        wipe split into several small calls is caught like a single one."""
        value = self.get(label).value
        for edit in self._store.block_history(self._agent_id, label):
            if not edit.actor.startswith(MODEL_ACTOR) or edit.undone:
                break
            value = edit.old_value
        return value

    def undo(self, edit_id: int | None = None) -> BlockEdit:
        """Undo one edit (the latest not yet undone when no id is given)."""
        if edit_id is None:
            live = [
                e
                for e in self._store.block_history(self._agent_id)
                if not e.undone and e.actor != "undo"
            ]
            if not live:
                raise ToolError("There is no memory edit to undo.")
            edit_id = live[0].id
        edit = self._store.undo_edit(self._agent_id, edit_id, self._clock.now())
        self.reload()
        return edit

    def reload(self) -> None:
        """Re-read blocks after someone else (the user, an undo) changed them."""
        self._blocks = {b.label: b for b in self._store.get_blocks(self._agent_id)}
        history = self._store.block_history(self._agent_id)
        self.last_modified = history[0].created_at if history else None
