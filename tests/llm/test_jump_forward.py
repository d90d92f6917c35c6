"""Jump-forward decoding and token splicing on the real tiny model: the schema's forced
stretches arrive several tokens at a time, the stream is the reply, and the next turn's prompt
holds the reply's generated tokens, so the KV cache is reused through the whole reply."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from app.core.functions import default_toolbox
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams, TextDelta
from app.llm.llamacpp import LlamaCppBackend

pytestmark = pytest.mark.model
LABELS = ("persona", "human")


def call(backend: LlamaCppBackend, messages: list[ChatMessage], seed: int = 0) -> Any:
    schema = default_toolbox().union_schema(LABELS)
    params = SamplingParams(max_tokens=120, temperature=0.7, repeat_penalty=1.1, seed=seed)
    items = list(backend.stream(messages, schema=schema, params=params))
    final = items[-1]
    assert isinstance(final, Completion)
    deltas = [i.text for i in items[:-1] if isinstance(i, TextDelta)]
    jsonschema.validate(json.loads(final.text), schema)
    return final, deltas


def first_turn() -> list[ChatMessage]:
    return [
        ChatMessage("system", "You are Engram. Answer with one JSON function call."),
        ChatMessage("user", "Hello! My name is Sam and my sister is called Maya."),
    ]


def test_forced_stretches_arrive_in_one_piece(smol: LlamaCppBackend) -> None:
    final, deltas = call(smol, first_turn())
    assert final.finish_reason == "stop"
    assert "".join(deltas) == final.text
    assert final.completion_tokens == len(smol._outputs[final.text])
    assert len(deltas) < final.completion_tokens  # some pieces carried several tokens
    assert any('"arguments":{' in d for d in deltas)  # e.g. the keys after the function name


def test_the_next_prompt_reuses_the_cache_through_the_reply(smol: LlamaCppBackend) -> None:
    messages = first_turn()
    first_prompt = smol.tokenize(messages)
    final, _ = call(smol, messages)
    generated = smol._outputs[final.text]
    follow = [*messages, ChatMessage("assistant", final.text), ChatMessage("user", "Thanks!")]
    prompt = smol.tokenize(follow)
    assert prompt[: len(first_prompt) + len(generated)] == first_prompt + list(generated)
    assert smol._reusable_prefix(prompt) >= len(first_prompt) + len(generated)
    second, _ = call(smol, follow, seed=1)
    assert second.evaluated_prompt_tokens <= len(prompt) - len(first_prompt) - len(generated) + 1


def test_a_reply_not_in_memory_is_tokenized_as_usual(smol: LlamaCppBackend) -> None:
    messages = [*first_turn(), ChatMessage("assistant", '{"never":"generated"}')]
    text = smol.render(messages).encode()
    assert smol.tokenize(messages) == list(
        smol._model().tokenize(text, add_bos=False, special=True)
    )
