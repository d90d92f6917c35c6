"""Incremental field streaming and the schema/validator built from tool signatures."""

from __future__ import annotations

import json
import random

from app.core.functions import default_toolbox
from app.core.schema import validate
from app.core.stream_json import FieldStreamer


def stream_all(text: str, chunk: int) -> dict[str, str]:
    s = FieldStreamer(frozenset({"inner_thoughts", "arguments.message"}))
    got: dict[str, str] = {}
    for i in range(0, len(text), chunk):
        for path, piece in s.feed(text[i : i + chunk]):
            got[path] = got.get(path, "") + piece
    return got


def test_streamer_decodes_escapes_across_any_chunking() -> None:
    rng = random.Random(7)
    alphabet = 'ab "\\\n\t/é中😀{}[],:'
    for _ in range(200):
        msg = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        thought = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        data = {
            "inner_thoughts": thought,
            "function": "send_message",
            "arguments": {"message": msg},
        }
        text = json.dumps(data, ensure_ascii=rng.random() < 0.5)
        got = stream_all(text, rng.randint(1, 9))
        assert got.get("arguments.message", "") == msg
        assert got.get("inner_thoughts", "") == thought


def test_streamer_ignores_other_fields() -> None:
    text = json.dumps(
        {
            "inner_thoughts": "t",
            "function": "core_memory_append",
            "arguments": {"label": "human", "content": "message: no"},
        }
    )
    assert stream_all(text, 3) == {"inner_thoughts": "t"}


def test_union_schema_validates_and_rejects() -> None:
    tb = default_toolbox()
    schema = tb.union_schema(("persona", "human"))
    good = {
        "inner_thoughts": "x",
        "function": "core_memory_append",
        "arguments": {"label": "human", "content": "c", "request_heartbeat": False},
    }
    assert validate(good, schema) == []
    bad_label = json.loads(json.dumps(good))
    bad_label["arguments"]["label"] = "nope"
    assert validate(bad_label, schema)
    missing = {"inner_thoughts": "x", "function": "send_message", "arguments": {}}
    assert validate(missing, schema)
    bad_date = {
        "inner_thoughts": "",
        "function": "conversation_search_date",
        "arguments": {
            "start_date": "March",
            "end_date": "2026-01-01",
            "page": 1,
            "request_heartbeat": True,
        },
    }
    assert validate(bad_date, schema)


def test_schema_comes_from_signatures() -> None:
    tb = default_toolbox()
    assert set(tb.names) == {
        "send_message",
        "core_memory_append",
        "core_memory_replace",
        "conversation_search",
        "conversation_search_date",
        "archival_memory_insert",
        "archival_memory_search",
        "pause_heartbeats",
    }
    for name in tb.names:
        props = tb[name].arguments_schema(("human",))["properties"]
        takes = "request_heartbeat" in props
        assert takes == (name not in {"send_message", "pause_heartbeats"})
        step = tb[name].call_schema(("human",))
        assert next(iter(step["properties"])) == "inner_thoughts"
        for prop in props.values():
            if prop.get("type") == "string" and "enum" not in prop:
                assert "maxLength" in prop or "pattern" in prop  # bounded: output stays finite


def test_date_fields_are_bounded_by_their_pattern_alone() -> None:
    """outlines keeps maxLength and drops pattern when both are given: a 135M model then wrote
    free text into start_date. A date field must carry only an anchored pattern."""
    schema = default_toolbox().union_schema(
        ("persona", "human"), only=("conversation_search_date",)
    )
    args = schema["properties"]["arguments"]["properties"]
    for field in ("start_date", "end_date"):
        assert "maxLength" not in args[field]
        assert args[field]["pattern"].startswith("^") and args[field]["pattern"].endswith("$")
    step = {
        "inner_thoughts": "look back",
        "function": "conversation_search_date",
        "arguments": {
            "start_date": "x 2026-01-01 y",
            "end_date": "2026-01-31",
            "page": 1,
            "request_heartbeat": False,
        },
    }
    assert validate(step, schema)
    step["arguments"]["start_date"] = "2026-01-01"
    assert validate(step, schema) == []
