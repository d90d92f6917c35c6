"""StepConstraint on a real outlines-core automaton over a toy vocabulary: only allowed tokens
pass, a "model" that would ramble forever inside a string still ends with a whole match inside
its budget, and the schema's forced stretches are jumped over."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest
from outlines_core import Index, Vocabulary

from app.llm.automaton import BudgetTooSmall, Distances, Processor, StepConstraint
from app.llm.constraints import require_numba

TOKENS = ["{", '"', "a", ":", "}", "b", "bb", "bbbb", '"}', '{"a":"']
EOS = len(TOKENS)
PATTERN = r'\{"a":"[a-z]*"\}'
RAMBLE = TOKENS.index("bbbb")  # the token our fake model likes best


@pytest.fixture(scope="module")
def index() -> Index:
    require_numba()
    return Index(PATTERN, Vocabulary(EOS, {t: [i] for i, t in enumerate(TOKENS)}))


PIECES = [t.encode() for t in TOKENS] + [b""]


def constraint(index: Index, budget: int, inner: Processor | None = None) -> StepConstraint:
    return StepConstraint(Distances(index, EOS), budget, inner, PIECES)


def generate(index: Index, budget: int, prefer: Callable[[int], list[int]]) -> list[int]:
    """Greedy sampling over each step's preferences, as llama-cpp-python drives a processor."""
    processor = constraint(index, budget)
    prompt = [0, 0, 0]
    out: list[int] = []
    for _ in range(budget):
        scores = np.zeros(EOS + 1, dtype=np.single)
        liked = prefer(len(out))
        scores[liked] = np.arange(len(liked), 0, -1)  # first preference scores highest
        ids = np.array(prompt + out, dtype=np.intc)
        masked = np.asarray(processor(ids, scores[None, :])).reshape(-1)
        token = int(np.argmax(masked))
        assert np.isfinite(masked[token]), "no legal token left"
        if token == EOS:
            return out
        out.append(token)
    raise AssertionError(f"no end-of-sequence within {budget} tokens: {out}")


def text(tokens: list[int]) -> str:
    return "".join(TOKENS[t] for t in tokens)


def test_distances_count_the_fewest_tokens_to_a_match(index: Index) -> None:
    d = Distances(index, EOS)
    assert d.to_end[d.initial] == 2  # '{"a":"' then '"}'
    assert all(d.to_end[f] == 0 for f in d.finals)


@pytest.mark.parametrize("budget", [3, 4, 5, 8, 20])
def test_a_rambling_model_closes_within_its_budget(index: Index, budget: int) -> None:
    liked = [RAMBLE, TOKENS.index('{"a":"'), TOKENS.index('"}'), EOS]
    tokens = generate(index, budget, lambda _: liked)
    assert re.fullmatch(PATTERN, text(tokens))
    assert len(tokens) + 1 <= budget  # the end-of-sequence token counts too
    assert text(tokens).count("bbbb") == budget - 3  # rambled as long as it could


def test_a_roomy_budget_changes_nothing(index: Index) -> None:
    plan = ['{"a":"', "bb", "bbbb", '"}']
    wanted = [[TOKENS.index(t)] for t in plan] + [[EOS]]
    assert text(generate(index, 6, lambda step: wanted[step])) == '{"a":"bbbbbb"}'


def test_a_budget_below_the_shortest_match_is_refused(index: Index) -> None:
    with pytest.raises(BudgetTooSmall, match="needs 3 tokens, 2 allowed"):
        constraint(index, 2)


def test_only_tokens_the_automaton_allows_pass(index: Index) -> None:
    processor = constraint(index, 50)
    scores = np.zeros((1, EOS + 1), dtype=np.single)
    masked = processor(np.array([0, 0], dtype=np.intc), scores).reshape(-1)
    allowed = {TOKENS[i] for i in np.flatnonzero(np.isfinite(masked))}
    assert allowed == {"{", '{"a":"'}
    fresh = np.zeros((1, EOS + 1), dtype=np.single)
    masked = processor(np.array([0, 0, 0], dtype=np.intc), fresh).reshape(-1)
    assert {TOKENS[i] for i in np.flatnonzero(np.isfinite(masked))} == {'"'}


def test_a_forced_stretch_is_jumped_over(index: Index) -> None:
    processor = constraint(index, 50)
    processor(np.array([0], dtype=np.intc), np.zeros((1, EOS + 1), dtype=np.single))
    jumped = processor.jump(TOKENS.index("{"), used=1)
    assert "".join(TOKENS[t] for t in jumped) == '"a":"'  # up to the string: a real choice
    assert processor.jump(TOKENS.index('{"a":"'), used=1) == []


def test_the_forced_opening_leads_and_counts_as_generated(index: Index) -> None:
    """`lead` gives the opening no reply can avoid; fed with the prompt, it counts against the
    budget: with 3 tokens, '{"a":"' leaves room for '"}' and the end only."""
    processor = constraint(index, 3)
    lead = processor.lead()
    assert text(lead) == '{"a":"'
    scores = np.zeros((1, EOS + 1), dtype=np.single)
    masked = processor(np.array([0, 0, 0, *lead], dtype=np.intc), scores).reshape(-1)
    assert {TOKENS[i] for i in np.flatnonzero(np.isfinite(masked))} == {'"}'}
    roomy = constraint(index, 30)
    roomy_lead = roomy.lead()
    scores = np.zeros((1, EOS + 1), dtype=np.single)
    masked = roomy(np.array([0, 0, 0, *roomy_lead], dtype=np.intc), scores).reshape(-1)
    assert {'"', "b", '"}'} <= {TOKENS[i] for i in np.flatnonzero(np.isfinite(masked))}


def test_a_jump_stops_where_the_budget_could_no_longer_finish(index: Index) -> None:
    processor = constraint(index, 8)
    processor(np.array([0], dtype=np.intc), np.zeros((1, EOS + 1), dtype=np.single))
    # after "{" the forced path needs 5 more tokens, then '"}' and the end: 1 + 5 + 1 + 1 = 8
    assert len(processor.jump(TOKENS.index("{"), used=1)) == 5
    processor = constraint(index, 8)
    processor(np.array([0], dtype=np.intc), np.zeros((1, EOS + 1), dtype=np.single))
    assert len(processor.jump(TOKENS.index("{"), used=3)) < 5


def test_when_masks_disagree_finishing_wins(index: Index) -> None:
    """An inner processor that forbids closing (a string limit gone wrong) is overruled."""
    closers = [TOKENS.index('"'), TOKENS.index('"}')]

    def never_close(ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        scores.reshape(-1)[closers] = -np.inf
        return scores

    processor = constraint(index, 4, never_close)
    out: list[int] = []
    for _ in range(4):
        scores = np.zeros((1, EOS + 1), dtype=np.single)
        masked = processor(np.array([0, *out], dtype=np.intc), scores).reshape(-1)
        token = int(np.argmax(masked))
        if token == EOS:
            break
        out.append(token)
    assert re.fullmatch(PATTERN, text(out))
    assert processor.forced >= 1
