"""Idle-time prefill on the real tiny model: the next prompt's known head goes into the KV
cache before the user's words exist, so the turn evaluates little more than those words; a
prefill stopped half-way leaves a cache the next call uses as it is."""

from __future__ import annotations

import json

import jsonschema
import pytest

from app.core.functions import default_toolbox
from app.core.messages import ChatMessage
from app.core.protocols import Completion, SamplingParams
from app.llm.llamacpp import PREFILL_BATCH, LlamaCppBackend

pytestmark = pytest.mark.model
MARK = "WORDS-NOT-TYPED-YET"
SCHEMA = default_toolbox().union_schema(("persona", "human"))


def call(backend: LlamaCppBackend, messages: list[ChatMessage], seed: int = 0) -> Completion:
    params = SamplingParams(max_tokens=80, temperature=0.7, repeat_penalty=1.1, seed=seed)
    final = list(backend.stream(messages, schema=SCHEMA, params=params))[-1]
    assert isinstance(final, Completion) and final.finish_reason == "stop"
    jsonschema.validate(json.loads(final.text), SCHEMA)
    return final


def event(words: str) -> str:
    return json.dumps({"type": "user_message", "message": words}, separators=(",", ":"))


def words_tokens(backend: LlamaCppBackend, words: str) -> int:
    return len(backend._model().tokenize(words.encode(), add_bos=False, special=False))


def test_a_prefilled_head_leaves_only_the_users_words(smol: LlamaCppBackend) -> None:
    history = [
        ChatMessage("system", "You are Engram, a kind assistant. Reply with one JSON call."),
        ChatMessage("user", event("Hello! I am Sam.")),
    ]
    first = call(smol, history)
    history.append(ChatMessage("assistant", first.text))
    receipt = '{"type":"function_result","function":"send_message","status":"OK"}'

    def turn(words: str) -> list[ChatMessage]:
        return [*history, ChatMessage("user", f"{receipt}\n{event(words)}")]

    done = list(smol.prefill(turn(MARK), upto=MARK))
    assert done and done == sorted(done) and done[-1] > 20  # the receipt and the event's head
    assert list(smol.prefill(turn(MARK), upto=MARK)) == []  # already in the cache
    words = "My sister Maya lives in Porto; she is a nurse."
    second = call(smol, turn(words), seed=1)
    closing = 7  # the closing "} + end of turn + the assistant header (+1 if a token merged)
    assert second.evaluated_prompt_tokens <= words_tokens(smol, words) + closing

    history += [ChatMessage("user", f"{receipt}\n{event(words)}")]
    history += [ChatMessage("assistant", second.text)]
    more = "And my brother Tom plays chess."
    third = call(smol, turn(more), seed=2)  # no prefill this time: the head is paid now
    assert third.evaluated_prompt_tokens > words_tokens(smol, more) + closing + 15


def test_a_stopped_prefill_leaves_a_usable_cache(smol: LlamaCppBackend) -> None:
    system = "You are Engram. " + " ".join(f"Rule {i}: be brief and kind." for i in range(20))
    messages = [ChatMessage("system", system), ChatMessage("user", event(MARK))]
    batches = smol.prefill(messages, upto=MARK)
    assert next(batches) == PREFILL_BATCH
    batches.close()  # a message arrived: the app stops between batches
    messages[-1] = ChatMessage("user", event("What are your rules?"))
    prompt = smol.tokenize(messages)
    cached = smol._cached_prefix(prompt)
    assert PREFILL_BATCH <= cached < len(prompt) - PREFILL_BATCH
    final = call(smol, messages)
    assert final.evaluated_prompt_tokens == len(prompt) - cached


def test_without_the_marker_nothing_is_evaluated(smol: LlamaCppBackend) -> None:
    messages = [ChatMessage("system", "Nothing to mark here."), ChatMessage("user", "Hi")]
    assert list(smol.prefill(messages, upto=MARK)) == []
