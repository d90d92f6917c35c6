"""JSON-schema generation from Python signatures, and a validator for the subset we emit.

One source of truth: a tool is a plain function whose signature and docstring become its JSON
schema, the schema becomes the decoding constraint, and the same schema validates what the model
wrote. We only emit a small subset of JSON Schema, so a 60-line validator keeps the core free of
third-party imports and gives error messages a small model can act on.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints

JsonSchema = dict[str, Any]


@dataclass(frozen=True)
class MaxLen:
    """`Annotated[str, MaxLen(n)]`: bounded strings keep constrained output finite."""

    chars: int


@dataclass(frozen=True)
class Pattern:
    """`Annotated[str, Pattern(regex)]`: e.g. dates the model must write as YYYY-MM-DD."""

    regex: str


@dataclass(frozen=True)
class Range:
    """`Annotated[int, Range(lo, hi)]`."""

    minimum: int
    maximum: int


class BlockLabel(str):
    """A parameter naming a core-memory block; its enum is filled per agent."""


DEFAULT_MAX_STRING = 500


def type_schema(annotation: Any, block_labels: tuple[str, ...]) -> JsonSchema:
    """The JSON schema of one parameter annotation."""
    extras: list[Any] = []
    if get_origin(annotation) is Annotated:
        annotation, *extras = get_args(annotation)
    schema: JsonSchema
    if annotation is BlockLabel:
        schema = {"type": "string", "enum": list(block_labels)}
    elif annotation is str:
        schema = {"type": "string", "maxLength": DEFAULT_MAX_STRING}
    elif annotation is bool:
        schema = {"type": "boolean"}
    elif annotation is int:
        schema = {"type": "integer"}
    elif get_origin(annotation) is Literal:
        schema = {"type": "string", "enum": list(get_args(annotation))}
    elif get_origin(annotation) in (Union, types.UnionType):
        raise TypeError(f"optional parameters are not supported in tools: {annotation}")
    else:
        raise TypeError(f"unsupported tool parameter type: {annotation!r}")
    for extra in extras:
        if isinstance(extra, MaxLen):
            schema["maxLength"] = extra.chars
        elif isinstance(extra, Pattern):
            # The pattern alone bounds the string: outlines lets maxLength win over pattern
            # (it kept only the length and the model wrote free text into a date field).
            schema.pop("maxLength", None)
            schema["pattern"] = extra.regex
        elif isinstance(extra, Range):
            schema["minimum"], schema["maximum"] = extra.minimum, extra.maximum
    return schema


def parse_docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into its description and `Args:` entries."""
    doc = inspect.getdoc(fn) or ""
    description, _, args_part = doc.partition("\nArgs:\n")
    params: dict[str, str] = {}
    current = ""
    for line in args_part.splitlines():
        match = re.match(r"\s{2,}(\w+):\s*(.*)", line)
        if match and line.startswith("    ") and not line.startswith("      "):
            current = match.group(1)
            params[current] = match.group(2).strip()
        elif current and line.strip():
            params[current] += " " + line.strip()
    return " ".join(description.split()), params


def signature_schema(
    fn: Callable[..., Any], block_labels: tuple[str, ...], skip_first: bool = True
) -> JsonSchema:
    """The arguments object of `fn` (its first parameter, the tool context, is skipped)."""
    hints = get_type_hints(fn, include_extras=True)
    _, docs = parse_docstring(fn)
    names = list(inspect.signature(fn).parameters)[1 if skip_first else 0 :]
    properties: JsonSchema = {}
    for name in names:
        prop = type_schema(hints[name], block_labels)
        if name in docs:
            prop["description"] = docs[name]
        properties[name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": False,
    }


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Errors (empty when valid) for the JSON-schema subset this module emits."""
    if "anyOf" in schema:
        options = [validate(value, option, path) for option in schema["anyOf"]]
        return min(options, key=len)
    if "const" in schema:
        return [] if value == schema["const"] else [f"{path}: expected {schema['const']!r}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{path}: {value!r} is not one of {schema['enum']}"]
    kind = schema.get("type")
    checker = _CHECKERS.get(kind) if isinstance(kind, str) else None
    return checker(value, schema, path) if checker else []


def _check_object(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object"]
    props: Mapping[str, Any] = schema.get("properties", {})
    errors = [f"{path}: missing '{key}'" for key in schema.get("required", []) if key not in value]
    if schema.get("additionalProperties") is False:
        errors += [f"{path}: unexpected '{key}'" for key in value if key not in props]
    for key, sub in props.items():
        if key in value:
            errors += validate(value[key], sub, f"{path}.{key}")
    return errors


def _check_string(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{path}: expected a string"]
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return [f"{path}: longer than {schema['maxLength']} characters"]
    if "pattern" in schema and not re.search(schema["pattern"], value):  # unanchored, per spec
        return [f"{path}: does not match {schema['pattern']}"]
    return []


def _check_integer(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [f"{path}: expected an integer"]
    if value < schema.get("minimum", value) or value > schema.get("maximum", value):
        return [f"{path}: {value} is out of range"]
    return []


def _check_boolean(value: Any, schema: Mapping[str, Any], path: str) -> list[str]:
    return [] if isinstance(value, bool) else [f"{path}: expected true or false"]


_CHECKERS: dict[str, Callable[[Any, Mapping[str, Any], str], list[str]]] = {
    "object": _check_object,
    "string": _check_string,
    "integer": _check_integer,
    "boolean": _check_boolean,
}
