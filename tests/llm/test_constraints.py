"""Schema-constrained generation: outlines processors on the real model, and their guards."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jsonschema
import numpy as np
import pytest

from app.core.errors import ModelError
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm.constraints import (
    GuardedProcessor,
    canonical_schema,
    integer_regex,
    require_numba,
    schema_regex,
)
from app.llm.llamacpp import LlamaCppBackend

CALL_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "properties": {
                "inner_thoughts": {"type": "string", "maxLength": 200},
                "function": {"const": "send_message"},
                "arguments": {
                    "type": "object",
                    "properties": {"message": {"type": "string", "maxLength": 400}},
                    "required": ["message"],
                    "additionalProperties": False,
                },
            },
            "required": ["inner_thoughts", "function", "arguments"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "inner_thoughts": {"type": "string", "maxLength": 200},
                "function": {"const": "archival_memory_search"},
                "arguments": {
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "maxLength": 200},
                        "page": {"type": "integer", "minimum": 1},
                        "request_heartbeat": {"type": "boolean"},
                    },
                    "required": ["query", "page", "request_heartbeat"],
                    "additionalProperties": False,
                },
            },
            "required": ["inner_thoughts", "function", "arguments"],
            "additionalProperties": False,
        },
    ]
}

SYSTEM = ChatMessage(
    "system",
    "You are Engram, an assistant with long-term memory. Every reply is one JSON function "
    "call: send_message to talk to the user, or archival_memory_search to look something up "
    "in your memory. Put your private reasoning in inner_thoughts.",
)
PROMPTS = [
    "Hi there!",
    "What's the capital of France?",
    "Do you remember what my dog is called?",
    "Search your memory for my sister's birthday.",
    "Tell me a joke about computers.",
    "I had a rough day at work today.",
    "What did we talk about last week?",
    "Can you recommend a good book?",
    "My favourite colour is green. Please remember that.",
    "How many legs does a spider have?",
    "Look up my notes about the garden project.",
    "Translate 'good morning' into Spanish.",
    "What is 17 times 3?",
    "Who am I?",
    "Find the recipe I saved for lasagna.",
    "Write a haiku about autumn.",
    "Thanks, that's all for now.",
    "When is my dentist appointment?",
    "Explain photosynthesis in one sentence.",
    'Say "hello" with quotes and a backslash \\ in it.',
]


def generate(
    backend: LlamaCppBackend, prompt: str, schema: dict[str, Any] | None, max_tokens: int = 400
) -> Completion:
    items = list(
        backend.stream(
            [SYSTEM, ChatMessage("user", prompt)],
            schema=schema,
            params=SamplingParams(max_tokens=max_tokens, temperature=0.0),
        )
    )
    final = items[-1]
    assert isinstance(final, Completion)
    return final


def test_numba_kernels_are_available() -> None:
    require_numba()  # raises ModelError when numba is missing


def test_schema_key_order_is_kept_in_the_cache_key() -> None:
    a = canonical_schema({"properties": {"x": {}, "y": {}}})
    b = canonical_schema({"properties": {"y": {}, "x": {}}})
    assert a != b and " " not in a


@pytest.mark.parametrize("lo, hi", [(1, 99), (1, 1440), (0, 0), (-5, 5), (-120, -7), (9, 10)])
def test_integer_ranges_compile_to_exact_regexes(lo: int, hi: int) -> None:
    pattern = re.compile(integer_regex(lo, hi))
    for value in range(lo - 150, hi + 150):
        assert bool(pattern.fullmatch(str(value))) == (lo <= value <= hi), value
    assert not any(pattern.fullmatch(bad) for bad in ("01", "-0", "+1", "1.0", ""))


def test_integer_bounds_reach_the_schema_regex() -> None:
    from outlines_core.json_schema import build_regex_from_schema

    regex = schema_regex(CALL_SCHEMA, build_regex_from_schema)
    assert "engram0integer0slot0" not in regex
    page = re.compile(regex)
    call = '{"inner_thoughts":"x","function":"archival_memory_search","arguments":'
    ok = call + '{"query":"q","page":%s,"request_heartbeat":true}}'
    assert page.fullmatch(ok % "3") and page.fullmatch(ok % "999999999")
    assert not page.fullmatch(ok % "0") and not page.fullmatch(ok % "1000000000")


def test_guard_forces_eos_and_reports_a_failing_processor() -> None:
    def broken(ids: Any, scores: Any) -> Any:
        raise ImportError("numba went missing")

    guard = GuardedProcessor(broken, eos_token_id=2)
    scores = np.zeros(8, dtype=np.single)
    out = guard(np.zeros(3, dtype=np.intc), scores)
    assert out[2] == 0 and np.isneginf(np.delete(out, 2)).all() and guard.calls == 1
    with pytest.raises(ModelError, match="numba went missing"):
        guard.raise_if_failed()


@pytest.mark.model
def test_union_schema_outputs_always_validate(smol: LlamaCppBackend) -> None:
    started = time.perf_counter()
    smol._constraints.index(CALL_SCHEMA)  # the compile is cached; measure it once
    compile_s = time.perf_counter() - started
    failures, tokens, elapsed = [], 0, 0.0
    for prompt in PROMPTS:
        t = time.perf_counter()
        final = generate(smol, prompt, CALL_SCHEMA)
        elapsed += time.perf_counter() - t
        tokens += final.completion_tokens
        try:
            jsonschema.validate(json.loads(final.text), CALL_SCHEMA)
        except (ValueError, jsonschema.ValidationError) as err:
            failures.append(f"{prompt!r} finish={final.finish_reason}: {err} :: {final.text!r}")
    print(f"\nschema index {compile_s:.2f} s; {tokens} tokens in {elapsed:.1f} s")
    assert not failures, "\n".join(failures)


@pytest.mark.model
def test_without_a_schema_the_output_is_plain_text(smol: LlamaCppBackend) -> None:
    final = generate(smol, "Hi there! How are you today?", None, max_tokens=40)
    with pytest.raises((ValueError, jsonschema.ValidationError)):
        jsonschema.validate(json.loads(final.text), CALL_SCHEMA)


@pytest.mark.model
def test_processors_are_fresh_and_the_index_is_cached(smol: LlamaCppBackend) -> None:
    compiler = smol._constraints
    one, two = compiler.processor(CALL_SCHEMA), compiler.processor(CALL_SCHEMA)
    assert one is not two and one.constrained
    assert compiler.index(CALL_SCHEMA) is compiler.index(json.loads(json.dumps(CALL_SCHEMA)))


@pytest.mark.model
def test_an_uncompilable_schema_raises_instead_of_running_free(smol: LlamaCppBackend) -> None:
    with pytest.raises(ModelError, match="cannot be compiled"):
        generate(smol, "hi", {"type": "object", "properties": {"a": {"not": {}}}})


@pytest.mark.model
def test_a_processor_failing_mid_generation_aborts_the_stream(
    smol: LlamaCppBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(schema: Any, budget: int | None = None) -> GuardedProcessor:
        calls = {"n": 0}

        def inner(ids: Any, scores: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > 3:
                raise RuntimeError("guide exploded")
            return scores

        return GuardedProcessor(inner, eos_token_id=smol._eos)

    monkeypatch.setattr(smol._constraints, "processor", failing)
    with pytest.raises(ModelError, match="guide exploded"):
        generate(smol, "hi", {"type": "string"})
    monkeypatch.undo()
    assert generate(smol, "hi", None, max_tokens=4).completion_tokens > 0
