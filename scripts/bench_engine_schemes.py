"""Decoding schemes compared on the same prompts (used by `bench_engine.py --schemes`).

- union: one outlines index for the whole step schema (strings' maxLength enforced by the
  byte-budget mask, not in the regex) - what Engram runs;
- two_phase: first a small schema picks `inner_thoughts` + the function name, then that one
  function's call schema is generated (llama-cpp-python's chatml_function_calling idea);
- gbnf (only with ENGRAM_BENCH_GBNF=1): llama.cpp's own grammar from the same union schema
  (`LlamaGrammar.from_json_schema`), maxLength included, no outlines at all.

Per scheme: setup (index build or grammar parse from nothing, plus one first call), ms per
generated token, seconds per call, and the fraction of outputs that parse and validate.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

from app.core.agent import Agent
from app.core.errors import ToolError
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm import constraints
from app.llm.llamacpp import LlamaCppBackend

Generate = Callable[[list[ChatMessage], SamplingParams], tuple[str, int]]


def _outlines(backend: LlamaCppBackend, schema: Mapping[str, Any]) -> Generate:
    def run(messages: list[ChatMessage], params: SamplingParams) -> tuple[str, int]:
        final = list(backend.stream(messages, schema=schema, params=params))[-1]
        assert isinstance(final, Completion)
        return final.text, final.completion_tokens

    return run


def _two_phase(backend: LlamaCppBackend, agent: Agent) -> Generate:
    labels = agent.memory.labels
    names = {
        "type": "object",
        "properties": {
            "inner_thoughts": {"type": "string", "maxLength": 200},
            "function": {"enum": agent.toolbox.names},
        },
        "required": ["inner_thoughts", "function"],
        "additionalProperties": False,
    }

    def run(messages: list[ChatMessage], params: SamplingParams) -> tuple[str, int]:
        first, n1 = _outlines(backend, names)(messages, params)
        try:
            chosen = json.loads(first)["function"]
        except ValueError:  # phase 1 cut off: the call is invalid
            return first, n1
        schema = agent.toolbox.union_schema(labels, (chosen,))
        text, n2 = _outlines(backend, schema)(messages, params)
        return text, n1 + n2

    return run


def _gbnf(backend: LlamaCppBackend, schema: Mapping[str, Any]) -> Generate:
    from llama_cpp.llama_grammar import LlamaGrammar

    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    llm = backend._model()

    def run(messages: list[ChatMessage], params: SamplingParams) -> tuple[str, int]:
        out: Any = llm.create_completion(
            backend.tokenize(messages),
            max_tokens=params.max_tokens * 2,
            temperature=params.temperature,
            repeat_penalty=params.repeat_penalty,
            seed=params.seed,
            grammar=grammar,
        )
        return out["choices"][0]["text"], out["usage"]["completion_tokens"]

    return run


def compare(
    backend: LlamaCppBackend, agent: Agent, prompts: list[ChatMessage], system: ChatMessage
) -> dict[str, dict[str, float]]:
    labels = agent.memory.labels
    schema = agent.toolbox.union_schema(labels)
    makers: dict[str, Callable[[], Generate]] = {
        "union": lambda: _outlines(backend, schema),
        "two_phase": lambda: _two_phase(backend, agent),
    }
    if os.environ.get("ENGRAM_BENCH_GBNF") == "1":
        # Off by default: llama-cpp-python 0.3.36 cannot parse the grammar it makes from the
        # step schema (the date `pattern`'s \d: "unknown escape") and the process died with
        # no Python exception in the run recorded in docs/engine.md.
        makers["gbnf"] = lambda: _gbnf(backend, schema)
    results = {}
    for name, make in makers.items():
        constraints.clear_cache()
        backend._constraints._cache_dir = None  # setup from nothing, no disk cache
        started = time.perf_counter()
        generate = make()
        try:
            generate([system, prompts[0]], SamplingParams(400))  # builds indexes lazily
            setup = time.perf_counter() - started
            results[name] = _measure(generate, prompts, system, schema, agent, setup)
        except Exception as err:  # a scheme that fails is a result, not the end of the run
            print(f"scheme {name} failed: {err!r}", flush=True)
    return results


def _measure(
    generate: Generate,
    prompts: list[ChatMessage],
    system: ChatMessage,
    schema: Mapping[str, Any],
    agent: Agent,
    setup: float,
) -> dict[str, float]:
    valid = tokens = 0
    elapsed = 0.0
    for i, user in enumerate(prompts):
        params = SamplingParams(400, 0.0 if i % 2 == 0 else 0.7, repeat_penalty=1.1, seed=i)
        started = time.perf_counter()
        text, n = generate([system, user], params)
        elapsed += time.perf_counter() - started
        tokens += n
        try:
            data = json.loads(text)
            jsonschema.validate(data, schema)
            agent.toolbox.parse(data, agent.memory.labels)
            valid += 1
        except (ValueError, jsonschema.ValidationError, ToolError):
            pass
    return {
        "setup_s": setup,
        "ms_per_token": 1000 * elapsed / max(1, tokens),
        "s_per_call": elapsed / max(1, len(prompts)),
        "valid": valid / max(1, len(prompts)),
    }
