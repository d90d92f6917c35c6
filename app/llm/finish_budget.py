"""A constrained call always ends as a whole call inside its token budget.

Why: the schema constraint guarantees every *prefix* is valid, not that the reply finishes. A
small model that rambles inside a string (a 1000-character `message`, a repeated phrase) runs
into `max_tokens`, and a call cut there cannot parse: on a different CPU's float rounding CI
saw 1 in 24 such cuts. So each generation knows its budget and, from the compiled automaton,
how few tokens every state needs to reach the end:

- `Distances(index)`: per automaton state, the fewest tokens to a final state (a reverse
  breadth-first walk over the index's transitions, ~0.1 s for the step schema; cached with the
  index), and each state's outgoing tokens with their targets' distances, built on demand.
- `FinishProcessor` follows the sampled tokens through the automaton. While the budget has room
  for any continuation it only runs the inner processors; once it gets tight (the last few
  dozen tokens) it also masks every token after which the end of the call plus the
  end-of-sequence token no longer fit. The invariant "distance + 1 <= tokens left" holds from
  the first token (checked before generating), so a legal token always remains, and the call
  ends with finish_reason "stop" at the latest on its last budgeted token.

If the other masks (string `maxLength`, control tokens) and this one leave nothing in common,
this one wins: a finished call matters more than a string limit the closing quote satisfies
anyway.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

Scores = npt.NDArray[np.single]
TokenIds = npt.NDArray[np.intc]
Processor = Callable[[TokenIds, Scores], Scores]


class Distances:
    """Fewest tokens from each automaton state of an outlines-core `Index` to a final state."""

    def __init__(self, index: Any, eos_token_id: int) -> None:
        self.index = index
        self.eos = eos_token_id
        self._transitions: dict[int, dict[int, int]] = index.get_transitions()
        self.finals = frozenset(index.get_final_states())
        self.initial = int(index.get_initial_state())
        self.to_end = _reverse_bfs(self._transitions, self.finals)
        self._outgoing: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        # the farthest any one token can take a state from the end: below it, masking is moot
        self.worst_next = {
            state: max((self.to_end.get(n, _FAR) for n in nexts.values()), default=0)
            for state, nexts in self._transitions.items()
        }

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


_FAR = 1 << 30  # a state from which the end cannot be reached


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


class FinishProcessor:
    """Wraps a generation's processors so the call completes within `budget` sampled tokens
    (the end-of-sequence token included, as llama-cpp-python counts it)."""

    def __init__(self, inner: Processor, distances: Distances, budget: int) -> None:
        need = distances.to_end.get(distances.initial, _FAR) + 1
        if need > budget:
            raise BudgetTooSmall(f"the shortest valid reply needs {need} tokens, {budget} allowed")
        self._inner = inner
        self._d = distances
        self._budget = budget
        self._state: int | None = distances.initial
        self._seen: int | None = None
        self._calls = 0
        self.forced = 0  # tokens where the budget narrowed the choice

    def __call__(self, input_ids: TokenIds, scores: Scores) -> Scores:
        if self._seen is None:
            self._seen = len(input_ids)  # the prompt: nothing generated yet
        for token in input_ids[self._seen :]:
            if self._state is not None:
                self._state = self._d.index.get_next_state(self._state, int(token))
        self._seen = len(input_ids)
        self._calls += 1
        slack = self._budget - self._calls - 1  # tokens left after this one and the EOS
        state = self._state
        if state is None or self._d.worst_next.get(state, 0) <= slack:
            return self._inner(input_ids, scores)
        original = scores.copy()
        scores = self._inner(input_ids, scores)
        flat = scores.reshape(-1)
        keep = self._allowed(state, slack, flat.shape[0])
        if not np.isfinite(flat[keep]).any():  # the inner masks disagree: finishing wins
            flat[:] = original.reshape(-1)
            keep = self._allowed(state, self._nearest(state), flat.shape[0])
        self.forced += 1
        flat[~keep] = -np.inf
        return scores

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
