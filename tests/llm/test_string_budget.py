"""String limits as a token mask: the limits found in a schema, the JSON byte scanner, and the
processor on a toy vocabulary (no model needed); the real model keeps every string in bounds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.core.functions import default_toolbox
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm.llamacpp import LlamaCppBackend
from app.llm.string_budget import (
    BudgetProcessor,
    JsonScanner,
    string_limits,
    strip_max_length,
    token_costs,
)

SCHEMA = {
    "anyOf": [
        {"type": "object", "properties": {
            "note": {"type": "string", "maxLength": 5},
            "args": {"type": "object", "properties": {"q": {"type": "string", "maxLength": 9}}},
        }},
        {"type": "object", "properties": {"note": {"type": "string", "maxLength": 3}}},
    ]
}  # fmt: skip


def test_limits_take_the_smallest_bound_of_any_branch() -> None:
    assert string_limits(SCHEMA) == {"note": 3, "args.q": 9}
    assert "maxLength" not in json.dumps(strip_max_length(SCHEMA))
    assert strip_max_length({"type": "array", "maxLength": 2}) == {"type": "array", "maxLength": 2}


def test_the_scanner_knows_where_it_is() -> None:
    scanner = JsonScanner()
    scanner.feed(b'{"note": "ab\\"c')
    assert scanner.value_path() == "note" and scanner.used == 5  # raw bytes, escape included
    scanner.feed(b'", "args": {"q": "x')
    assert scanner.value_path() == "args.q" and scanner.used == 1
    scanner.feed(b'"}, "')
    assert scanner.value_path() is None  # inside a key


def test_token_costs_stop_at_a_closing_quote_unless_escaped() -> None:
    plain, total = token_costs([b"abc", b'x",', b'\\"y', b""])
    assert plain.tolist() == [3, 1, 3, 0]
    assert total.tolist() == [3, 3, 3, 0]


PIECES = [b"", b'"', b"a", b"aaaa", b'a"', b'aaa"}', b"\\", b"{", b'{"note":"']


def run(steps: list[int], limits: dict[str, int]) -> np.ndarray:
    """Feed the tokens in `steps` (after a 3-token prompt) and return the final mask.
    Token 0 stands for a control token: no text, never allowed inside a string."""
    processor = BudgetProcessor(limits, PIECES, token_costs(PIECES))
    prompt = [0, 0, 0]
    scores = np.zeros((1, len(PIECES)), dtype=np.single)
    processor(np.array(prompt, dtype=np.intc), scores.copy())
    ids = np.array(prompt + steps, dtype=np.intc)
    processor(ids, scores)
    return np.isfinite(scores[0])


def test_tokens_that_would_overrun_are_masked() -> None:
    allowed = run([8, 2, 2], {"note": 3})  # {"note":"aa  -> one byte left
    assert allowed.tolist() == [False, True, True, False, True, False, True, True, True]


def test_after_a_backslash_every_byte_counts() -> None:
    allowed = run([8, 2, 6], {"note": 3})  # {"note":"a\  -> one byte left, escape pending
    assert not allowed[4]  # a" would be 2 bytes of content
    assert allowed[1]  # the escaped quote itself is 1 byte
    assert not allowed[0]  # never a control token inside a string


def test_outside_limited_strings_nothing_is_masked() -> None:
    assert run([7], {"note": 3}).all()
    assert run([8, 3, 3], {"other": 1}).tolist() == [False] + [True] * 8  # only control tokens


@pytest.mark.model
def test_real_outputs_respect_every_max_length(smol: LlamaCppBackend) -> None:
    toolbox = default_toolbox()
    labels = ("persona", "human")
    schema = toolbox.union_schema(labels)
    limits = string_limits(schema)
    system = ChatMessage("system", "Think at length, then call one function as JSON.")
    for i, text in enumerate(["Describe the ocean in great detail.", "Tell me everything."]):
        params = SamplingParams(max_tokens=400, temperature=0.8, seed=i, repeat_penalty=1.1)
        items = list(smol.stream([system, ChatMessage("user", text)], schema=schema,
                                 params=params))  # fmt: skip
        final = items[-1]
        assert isinstance(final, Completion) and final.finish_reason == "stop"
        call = toolbox.parse(json.loads(final.text), labels)
        assert len(call.thoughts) <= limits["inner_thoughts"]


def test_a_lead_evaluated_with_the_prompt_is_read_as_output() -> None:
    """The backend evaluates a reply's forced opening in the prompt's batch; told how many
    tokens that was (`starts_with`), the processor reads them as output, not prompt."""
    processor = BudgetProcessor({"note": 3}, PIECES, token_costs(PIECES))
    processor.starts_with(3)
    scores = np.zeros((1, len(PIECES)), dtype=np.single)
    processor(np.array([0, 0, 0, 8, 2, 2], dtype=np.intc), scores)
    assert np.isfinite(scores[0]).tolist() == run([8, 2, 2], {"note": 3}).tolist()
    assert not np.isfinite(scores[0]).all()  # the limit applies: something was masked
