"""JSON schema -> constrained-generation processor for llama.cpp, compiled once and cached.

Compiling a schema into an outlines-core `Index` costs seconds (it walks the whole vocabulary
through the schema's automaton), so indexes are cached in memory per (vocabulary fingerprint,
schema JSON), and on disk when a cache folder is given (`constraint_cache`), so the next
process start loads them instead. Every generation gets a *fresh* `automaton.StepConstraint`
built from the cached index (it keeps its automaton state; a new one costs microseconds).

Two failure modes must never turn into silently unconstrained output:
- outlines' numpy kernels need `numba`; without it the import error is raised inside llama.cpp's
  ctypes sampler callback, where it is swallowed. `require_numba()` checks (and warms the JIT)
  before any processor is handed out.
- any other error inside the callback is caught by `GuardedProcessor`, which then forces the
  end-of-sequence token and keeps the error for the caller to raise.

Key order in the schema is significant (it fixes the field order of the output), so the cache
key is the schema's JSON with key order preserved.

outlines-core ignores `minimum`/`maximum` on integers and lets them grow without end (a small
model happily writes `"page": 1000000000...` until max_tokens). Integer sub-schemas are
therefore compiled to an exact range regex of our own (unbounded sides are capped at
`MAX_INT_DIGITS` digits), spliced in where a placeholder constant stood.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.core.errors import ModelError
from app.llm.automaton import BudgetTooSmall, Distances, StepConstraint
from app.llm.constraint_cache import load_index, save_index
from app.llm.string_budget import BudgetProcessor, string_limits, strip_max_length, token_costs

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger("engram.llm")

Scores = npt.NDArray[np.single]
TokenIds = npt.NDArray[np.intc]
Processor = Callable[[TokenIds, Scores], Scores]

MAX_CACHED_INDEXES = 32
MAX_INT_DIGITS = 9
DEFAULT_BUDGET = 4096  # tokens, for a processor asked for without a budget (tests, tools)
# No optional whitespace between JSON tokens: it changes nothing a parser sees, and without it
# the schema's structure is a forced path the backend jumps over (`automaton.forced_token`).
WHITESPACE = ""
_PLACEHOLDER = "engram0integer0slot0{}"
_index_cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
_distance_cache: OrderedDict[tuple[str, str], Distances] = OrderedDict()
_cache_lock = threading.Lock()
_numba_ok = False


def require_numba() -> None:
    """Fail loudly unless outlines' numpy kernels (numba) work; also compiles the kernel."""
    global _numba_ok
    if _numba_ok:
        return
    try:
        import numba  # noqa: F401
        from outlines_core.kernels import numpy as kernels
    except ImportError as err:
        raise ModelError(
            "Constrained replies need the numba package, which is missing or broken.",
            hint="Reinstall Engram's dependencies (pip install numba).",
        ) from err
    # llama.cpp hands the processor a strided view of its token-data records; compile the
    # kernel for that layout (and the contiguous one) now rather than on the first token.
    records = np.zeros(
        40, dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)])
    )
    for logits in (records["logit"][None, :], np.zeros((1, 40), dtype=np.single)):
        mask = kernels.allocate_token_bitmask(40)
        mask[0, 0] = 0b1  # tokens 0..31: only token 0 allowed; 32..39 all allowed
        kernels.apply_token_bitmask_inplace(logits, mask)
        if not (logits[0, 0] == 0 and np.isneginf(logits[0, 1]) and logits[0, 39] == 0):
            raise ModelError("Constrained replies are broken: the token mask kernel misbehaves.")
    _numba_ok = True


def canonical_schema(schema: Mapping[str, Any]) -> str:
    """The schema as compact JSON, key order preserved (it decides the output's field order)."""
    try:
        return json.dumps(schema, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ModelError(f"The reply format is not valid JSON schema data: {err}.") from err


class GuardedProcessor:
    """One generation's logits processor: counts sampled tokens and never fails silently.

    With `inner=None` it only counts (unconstrained generation). If `inner` raises, the
    error is kept in `error` and only the end-of-sequence token is allowed from then on.
    """

    def __init__(self, inner: Processor | None, eos_token_id: int) -> None:
        self._inner = inner
        self._eos = eos_token_id
        self.calls = 0
        self.error: BaseException | None = None

    @property
    def constrained(self) -> bool:
        return self._inner is not None

    def __call__(self, input_ids: TokenIds, scores: Scores) -> Scores:
        self.calls += 1
        if self._inner is None:
            return scores
        if self.error is None:
            try:
                return self._inner(input_ids, scores)
            except Exception as err:  # raised inside a ctypes callback: keep it for later
                self.error = err
        scores[:] = -np.inf
        scores[self._eos] = 0.0
        return scores

    def lead(self) -> list[int]:
        """Tokens the constraint forces before the first sample (see `StepConstraint.lead`)."""
        lead = getattr(self._inner, "lead", None)
        if self.error is not None or lead is None:
            return []
        try:
            return list(lead())
        except Exception as err:  # same contract as a failure inside the sampler
            self.error = err
            return []

    def jump(self, sampled: int, used: int) -> list[int]:
        """Tokens the constraint forces after `sampled` (see `StepConstraint.jump`)."""
        jump = getattr(self._inner, "jump", None)
        if self.error is not None or jump is None:
            return []
        try:
            return list(jump(sampled, used))
        except Exception as err:  # same contract as a failure inside the sampler
            self.error = err
            return []

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise ModelError(
                f"Constrained generation failed inside the sampler: {self.error!r}."
            ) from self.error


class ConstraintCompiler:
    """Builds per-generation processors for one loaded `Llama` (one vocabulary)."""

    def __init__(self, llm: Llama, cache_dir: Path | None = None, vocab_digest: str = "") -> None:
        self._llm = llm
        self._cache_dir = cache_dir  # None: compiled indexes live in memory only
        self._vocabulary: Any = None
        self._vocab_digest = vocab_digest  # the GGUF's tokenizer metadata, hashed while vetted
        self._fingerprint = ""
        self._eos = int(llm.token_eos())
        self._pieces: list[bytes] | None = None
        self._costs = token_costs([])

    @property
    def fingerprint(self) -> str:
        """A stable digest of the vocabulary and of what else shapes an index (the
        end-of-sequence token, the JSON whitespace pattern): the GGUF's, or asked of llama.cpp
        token by token when the file's is not known (0.35 s for 262k tokens)."""
        if not self._fingerprint:
            if self._vocab_digest:
                seed = f"gguf={self._vocab_digest} eos={self._eos} ws={WHITESPACE!r}"
                self._fingerprint = hashlib.sha256(seed.encode()).hexdigest()
            else:
                self._fingerprint = vocabulary_fingerprint(self._llm, self._eos)
        return self._fingerprint

    def processor(
        self, schema: Mapping[str, Any] | None, budget: int | None = None
    ) -> GuardedProcessor:
        """A fresh processor for one generation of at most `budget` tokens; `None` gives a
        counting pass-through. A constrained one is a `StepConstraint` (mask, finish within
        the budget, jump forward); a budget below the shortest valid reply is a ModelError."""
        if schema is None:
            return GuardedProcessor(None, self._eos)
        require_numba()
        limits = string_limits(schema)
        pieces = self._vocabulary_pieces()
        inner = BudgetProcessor(limits, pieces, self._costs) if limits else None
        try:
            step = StepConstraint(self.distances(schema), budget or DEFAULT_BUDGET, inner, pieces)
        except BudgetTooSmall as err:
            raise ModelError(
                f"There is no room left for a complete reply: {err}.",
                hint="Start a new conversation or raise the context size.",
            ) from err
        return GuardedProcessor(step, self._eos)

    def distances(self, schema: Mapping[str, Any]) -> Distances:
        """Per automaton state, the fewest tokens to a complete reply (cached with the index)."""
        text = canonical_schema(strip_max_length(schema))
        index = self._index_for(text)
        key = (self.fingerprint, text)
        with _cache_lock:
            found = _distance_cache.get(key)
            if found is not None and found.index is index:
                _distance_cache.move_to_end(key)
                return found
        started = time.perf_counter()
        found = Distances(index, self._eos)
        log.info("walked the constraint automaton in %.3f s", time.perf_counter() - started)
        with _cache_lock:
            _distance_cache[key] = found
            while len(_distance_cache) > MAX_CACHED_INDEXES:
                _distance_cache.popitem(last=False)
        return found

    def pieces(self) -> list[bytes]:
        """Every token's bytes as generated text (control tokens: none)."""
        return self._vocabulary_pieces()

    def _vocabulary_pieces(self) -> list[bytes]:
        """Every token's bytes as generated text (control tokens: none), built once."""
        if self._pieces is None:
            self._pieces = vocabulary_pieces(self._llm)
            self._costs = token_costs(self._pieces)
        return self._pieces

    def index(self, schema: Mapping[str, Any]) -> Any:
        """The compiled outlines-core Index for `schema` without its string `maxLength`s
        (enforced by `BudgetProcessor` instead), from the cache when possible."""
        return self._index_for(canonical_schema(strip_max_length(schema)))

    def _index_for(self, text: str) -> Any:
        key = (self.fingerprint, text)
        with _cache_lock:
            if key in _index_cache:
                _index_cache.move_to_end(key)
                return _index_cache[key]
        index = self._from_disk(text)
        if index is None:
            index = self._compile(text)
            if self._cache_dir is not None:
                save_index(self._cache_dir, self._fingerprint, text, index)
        with _cache_lock:
            _index_cache[key] = index
            while len(_index_cache) > MAX_CACHED_INDEXES:
                _index_cache.popitem(last=False)
        return index

    def _from_disk(self, text: str) -> Any:
        if self._cache_dir is None:
            return None
        started = time.perf_counter()
        index = load_index(self._cache_dir, self._fingerprint, text)
        if index is not None:
            log.info("loaded a compiled constraint in %.3f s", time.perf_counter() - started)
        return index

    def _compile(self, text: str) -> Any:
        from outlines_core import Index
        from outlines_core.json_schema import build_regex_from_schema

        self._ensure_vocabulary()
        started = time.perf_counter()
        try:
            regex = schema_regex(
                json.loads(text), lambda schema: build_regex_from_schema(schema, WHITESPACE)
            )
            index = Index(regex, self._vocabulary)
        except Exception as err:  # outlines-core raises ValueError/TypeError/Rust panics
            raise ModelError(
                f"The reply format (JSON schema) cannot be compiled into a constraint: {err}.",
                hint="Simplify the schema; the reply is never generated unconstrained.",
            ) from err
        log.info(
            "compiled a %d-character schema into a %d-character regex in %.2f s",
            len(text),
            len(regex),
            time.perf_counter() - started,
        )
        return index

    def _ensure_vocabulary(self) -> None:
        """outlines' Vocabulary: only a compile needs it (1.5 s for a 262k vocabulary, so an
        index loaded from disk never builds it)."""
        if self._vocabulary is not None:
            return
        from outlines.backends.outlines_core import OutlinesCoreBackend
        from outlines.models.llamacpp import LlamaCppTokenizer

        tokenizer = LlamaCppTokenizer(self._llm)
        self._vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
            tokenizer.vocabulary,
            tokenizer.eos_token_id,
            tokenizer.eos_token,
            tokenizer.convert_token_to_string,
        )


def vocabulary_fingerprint(llm: Llama, eos: int) -> str:
    """A digest of what outlines builds an index from: each token's text and attributes, the
    end-of-sequence token and the JSON whitespace pattern."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    digest = hashlib.sha256(f"v2 eos={eos} n={llm.n_vocab()} ws={WHITESPACE!r}".encode())
    for token in range(llm.n_vocab()):
        text = llama_cpp.llama_vocab_get_text(vocab, token) or b""
        attr = llama_cpp.llama_vocab_get_attr(vocab, token)
        digest.update(b"%d\x00%d\x00%s\x01" % (token, attr, text))
    return digest.hexdigest()


def vocabulary_pieces(llm: Llama) -> list[bytes]:
    """The bytes each token adds to generated text (llama_token_to_piece, no lstrip)."""
    import ctypes

    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    size = 256
    buffer = ctypes.create_string_buffer(size)
    pieces = []
    for token in range(llm.n_vocab()):
        n = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
        if n < 0:  # longer than the buffer: ask again with room
            bigger = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(vocab, token, bigger, -n, 0, False)
            pieces.append(bigger.raw[:n])
        else:
            pieces.append(buffer.raw[:n])
    return pieces


def schema_regex(schema: Any, to_regex: Callable[[str], str]) -> str:
    """The regex for `schema`, with integer sub-schemas replaced by exact range regexes."""
    slots: list[str] = []
    lowered = _lower_integers(schema, slots)
    regex = to_regex(json.dumps(lowered))
    for i, pattern in enumerate(slots):
        literal = to_regex(json.dumps({"const": _PLACEHOLDER.format(i)}))
        if literal not in regex:
            raise ValueError("integer placeholder lost while compiling the schema")
        regex = regex.replace(literal, f"({pattern})")
    return regex


def _lower_integers(node: Any, slots: list[str]) -> Any:
    if isinstance(node, list):
        return [_lower_integers(item, slots) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "integer" and "enum" not in node and "const" not in node:
        slots.append(integer_regex(*_integer_bounds(node)))
        return {"const": _PLACEHOLDER.format(len(slots) - 1)}
    return {key: _lower_integers(value, slots) for key, value in node.items()}


def _integer_bounds(node: Mapping[str, Any]) -> tuple[int, int]:
    cap = 10**MAX_INT_DIGITS - 1
    lo, hi = node.get("minimum", -cap), node.get("maximum", cap)
    if "exclusiveMinimum" in node:
        lo = max(lo, math.floor(node["exclusiveMinimum"]) + 1)
    if "exclusiveMaximum" in node:
        hi = min(hi, math.ceil(node["exclusiveMaximum"]) - 1)
    lo, hi = math.ceil(lo), math.floor(hi)
    if lo > hi:
        raise ValueError(f"empty integer range [{lo}, {hi}]")
    return lo, hi


def integer_regex(lo: int, hi: int) -> str:
    """A regex matching exactly the integers lo..hi as JSON writes them."""
    parts = []
    if lo < 0:
        parts.append(f"-({_natural_regex(max(1, -hi), -lo)})")
    if hi >= 0:
        parts.append(_natural_regex(max(0, lo), hi))
    return "|".join(f"({p})" for p in parts) if len(parts) > 1 else parts[0]


def _natural_regex(lo: int, hi: int) -> str:
    """Non-negative lo..hi, split into runs of equal digit count."""
    runs = []
    for digits in range(len(str(lo)), len(str(hi)) + 1):
        start = max(lo, 10 ** (digits - 1) if digits > 1 else 0)
        end = min(hi, 10**digits - 1)
        runs.append(_same_length(str(start), str(end)))
    return "|".join(f"({r})" for r in runs) if len(runs) > 1 else runs[0]


def _same_length(a: str, b: str) -> str:
    """Regex for the numbers a..b written with the same number of digits."""
    if a == b:
        return a
    if len(a) == 1:
        return f"[{a}-{b}]"
    if a[0] == b[0]:
        return a[0] + _same_length(a[1:], b[1:])
    rest = len(a) - 1
    parts = [a[0] + _same_length(a[1:], "9" * rest)]
    if int(b[0]) - int(a[0]) > 1:
        parts.append(f"[{int(a[0]) + 1}-{int(b[0]) - 1}]" + "[0-9]" * rest)
    parts.append(b[0] + _same_length("0" * rest, b[1:]))
    return "(" + "|".join(parts) + ")"


def clear_cache() -> None:
    """Forget every compiled index (tests; memory pressure)."""
    with _cache_lock:
        _index_cache.clear()
        _distance_cache.clear()
