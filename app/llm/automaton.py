"""The step constraint as an automaton we drive ourselves: mask, finish in budget, jump forward.

One compiled outlines-core `Index` (regex automaton over the model's vocabulary) gives three
things a generation needs, all here:

- **The mask.** `StepConstraint` follows the tokens in the sequence (however many arrived since
  its last call: sampled one by one, or several at once when jumping forward) with an
  outlines-core `Guide`, and lets through only the tokens the automaton allows (outlines' own
  bitmask kernel; outlines' Python processor advances by one token per call, which is why it
  is not used).
- **Finishing inside the budget.** A call cut at `max_tokens` cannot parse (CI once saw 1 cut
  in 24 on another CPU's float rounding). `Distances` knows, per automaton state, the fewest
  tokens to a complete reply (a reverse breadth-first walk, ~0.1 s for the step schema, cached
  with the index). While the budget has room for any continuation nothing changes; in the last
  few dozen tokens every token after which the end plus the end-of-sequence token would no
  longer fit is masked. The invariant "distance + 1 <= tokens left" holds from the first token
  (checked before generating), so a legal token always remains.
- **Jump forward.** Where the schema leaves no choice (`","function":"send_` ... after the
  thoughts, the keys after a chosen function), sampling token by token wastes a forward pass per
  token. `forced_tokens` finds the continuation the automaton forces (every allowed token is a
  prefix of the longest allowed one) and the backend evaluates those tokens in one batch.

If the other masks (string `maxLength`, control tokens) and the finishing mask leave nothing in
common, finishing wins: a whole call matters more than a string limit the closing quote keeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.single]
TokenIds = npt.NDArray[np.intc]
Processor = Callable[[TokenIds, Scores], Scores]

_FAR = 1 << 30  # a state from which the end cannot be reached
MAX_JUMP = 48  # tokens one jump may add (a long key path is ~15)


class Distances:
    """Per automaton state of an outlines-core `Index`: fewest tokens to a final state, and
    (on demand) its outgoing tokens and the token it forces, if any."""

    def __init__(self, index: Any, eos_token_id: int) -> None:
        self.index = index
        self.eos = eos_token_id
        self._transitions: dict[int, dict[int, int]] = index.get_transitions()
        self.finals = frozenset(index.get_final_states())
        self.initial = int(index.get_initial_state())
        self.to_end = _reverse_bfs(self._transitions, self.finals)
        self._outgoing: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        self._forced: dict[int, int | None] = {}
        # the farthest any one token can take a state from the end: below it, masking is moot
        self.worst_next = {
            state: max((self.to_end.get(n, _FAR) for n in nexts.values()), default=0)
            for state, nexts in self._transitions.items()
        }

    def next_state(self, state: int, token: int) -> int | None:
        return self._transitions.get(state, {}).get(token)

    def outgoing(self, state: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(tokens, their targets' distances) for `state`, end-of-sequence excluded."""
        if state not in self._outgoing:
            pairs = [
                (token, self.to_end.get(target, _FAR))
                for token, target in self._transitions.get(state, {}).items()
                if token != self.eos
            ]
            tokens = np.fromiter((t for t, _ in pairs), dtype=np.int64, count=len(pairs))
            dists = np.fromiter((d for _, d in pairs), dtype=np.int64, count=len(pairs))
            self._outgoing[state] = (tokens, dists)
        return self._outgoing[state]

    def forced_token(self, state: int, pieces: Sequence[bytes]) -> int | None:
        """The token to jump with when `state` leaves no real choice: every allowed token's
        text is a prefix of the longest one's (`,`, `,"`, `,"function` ...), so that text comes
        next whatever is sampled. None where there is a choice, or the reply may end."""
        if state not in self._forced:
            nexts = self._transitions.get(state, {})
            forced = None
            if state not in self.finals and 0 < len(nexts) <= 64 and self.eos not in nexts:
                longest = max(nexts, key=lambda t: len(pieces[t]))
                text = pieces[longest]
                if text and all(text.startswith(pieces[t]) for t in nexts):
                    forced = longest
            self._forced[state] = forced
        return self._forced[state]


def _reverse_bfs(transitions: dict[int, dict[int, int]], finals: frozenset[int]) -> dict[int, int]:
    predecessors: dict[int, set[int]] = {}
    for state, nexts in transitions.items():
        for target in set(nexts.values()):
            predecessors.setdefault(target, set()).add(state)
    distance = dict.fromkeys(finals, 0)
    queue = deque(finals)
    while queue:
        state = queue.popleft()
        for before in predecessors.get(state, ()):
            if before not in distance:
                distance[before] = distance[state] + 1
                queue.append(before)
    return distance


class BudgetTooSmall(ValueError):
    """The shortest valid reply does not fit the tokens the call may generate."""


class StepConstraint:
    """One generation's logits processor (llama-cpp-python's signature): the automaton's mask,
    then `inner` (string limits), then the finishing mask; the call completes within `budget`
    generated tokens, the end-of-sequence token included (as llama.cpp counts it)."""

    def __init__(
        self,
        distances: Distances,
        budget: int,
        inner: Processor | None = None,
        pieces: Sequence[bytes] = (),
    ) -> None:
        from outlines_core import Guide

        need = distances.to_end.get(distances.initial, _FAR) + 1
        if need > budget:
            raise BudgetTooSmall(f"the shortest valid reply needs {need} tokens, {budget} allowed")
        self._d = distances
        self._guide = Guide(distances.index)
        self._inner = inner
        self._pieces = pieces
        self._budget = budget
        self._prompt: int | None = None  # sequence length before the first generated token
        self._seen = 0
        self._lead = 0  # forced tokens the backend put after the prompt (`lead`)
        self._bitmask: npt.NDArray[np.int32] | None = None
        self.forced = 0  # tokens where the budget narrowed the choice

    def __call__(self, input_ids: TokenIds, scores: Scores) -> Scores:
        self._follow(input_ids)
        generated = len(input_ids) - (self._prompt or 0)
        slack = self._budget - generated - 2  # tokens left after this one and the EOS
        state = int(self._guide.get_state())
        tight = self._d.worst_next.get(state, 0) > slack
        original = scores.copy() if tight else None
        self._mask(scores)
        if self._inner is not None:
            scores = self._inner(input_ids, scores)
        if original is None:
            return scores
        flat = scores.reshape(-1)
        keep = self._allowed(state, slack, flat.shape[0])
        if not np.isfinite(flat[keep]).any():  # the inner masks disagree: finishing wins
            flat[:] = original.reshape(-1)
            keep = self._allowed(state, self._nearest(state), flat.shape[0])
        self.forced += 1
        flat[~keep] = -np.inf
        return scores

    def lead(self) -> list[int]:
        """The tokens every reply starts with (`{"inner_thoughts":"`), forced before anything
        is sampled: the backend evaluates them in the prompt's batch. Asked before the first
        step; they then count as generated here and in the string-budget processor."""
        if not self._pieces or self._prompt is not None:
            return []
        out = self._forced_run(int(self._guide.get_state()), 0)
        self._lead = len(out)
        starts_with = getattr(self._inner, "starts_with", None)
        if starts_with is not None:
            starts_with(len(out))
        return out

    def jump(self, sampled: int, used: int) -> list[int]:
        """Tokens the automaton forces right after `sampled`, to be evaluated with it in one
        batch; `used` counts the generated tokens including `sampled`. The jump stops where
        it would leave too little budget to finish."""
        if not self._pieces:
            return []
        return self._forced_run(self._d.next_state(int(self._guide.get_state()), sampled), used)

    def _forced_run(self, state: int | None, used: int) -> list[int]:
        out: list[int] = []
        while state is not None and len(out) < MAX_JUMP:
            token = self._d.forced_token(state, self._pieces)
            if token is None:
                break
            after = self._d.next_state(state, token)
            left = self._budget - used - len(out) - 1  # after this token
            if after is None or self._d.to_end.get(after, _FAR) + 1 > left:
                break
            out.append(token)
            state = after
        return out

    def _follow(self, input_ids: TokenIds) -> None:
        if self._prompt is None:  # the prompt, and the lead if there was one
            self._prompt = self._seen = len(input_ids) - self._lead
        for token in input_ids[self._seen :]:
            self._guide.advance(token_id=int(token), return_tokens=False)
        self._seen = len(input_ids)

    def _mask(self, scores: Scores) -> None:
        from outlines_core.kernels.numpy import (
            allocate_token_bitmask,
            apply_token_bitmask_inplace,
            fill_next_token_bitmask,
        )

        logits = scores if scores.ndim == 2 else scores[None, :]
        if self._bitmask is None:
            self._bitmask = allocate_token_bitmask(logits.shape[-1])
        fill_next_token_bitmask(self._guide, self._bitmask)
        apply_token_bitmask_inplace(logits, self._bitmask)

    def _allowed(self, state: int, slack: int, size: int) -> npt.NDArray[np.bool_]:
        keep = np.zeros(size, dtype=bool)
        tokens, dists = self._d.outgoing(state)
        keep[tokens[(dists <= slack) & (tokens < size)]] = True
        if state in self._d.finals and self._d.eos < size:
            keep[self._d.eos] = True
        return keep

    def _nearest(self, state: int) -> int:
        _, dists = self._d.outgoing(state)
        return int(dists.min()) if dists.size else 0
