"""LlamaCppBackend: the ChatBackend that runs a GGUF model in-process with llama.cpp.

- The file is vetted (`check_gguf`, `fits_in_memory`) before llama.cpp touches it, and every
  load failure becomes a `ModelError` with one user sentence.
- llama.cpp's own log goes to Python logging (logger "engram.llama") through `llama_log_set`;
  the model is loaded with `verbose=True` (`verbose=False` would redirect the whole process's
  stdout/stderr file descriptors), its Python-level prints during load are captured into the
  debug log, and `verbose` is switched off afterwards, so nothing reaches the terminal.
- Prompts are rendered with the GGUF's own chat template (see `chat_template`) and passed to
  `Llama.create_completion` as tokens, so llama.cpp's longest-common-prefix KV reuse applies
  across calls (outlines' own `generate()` resets the cache on every call; it is not used).
- With a schema, `automaton.StepConstraint` constrains every token; it is never dropped.
  A constrained call that hits its max_tokens gets once more room in the same pass, and is
  steered to close within that room (`automaton`), so it never ends as a cut call. Tokens
  the schema forces are evaluated in one batch (jump forward) by a sampling loop of our own.
- Layers go to the GPU by the estimate in `gpu` (free VRAM vs the GGUF's size), and a failed
  load retries with fewer; `warm_start` restores an agent's static prefix from disk.

Thread contract: one thread owns a backend. A generation in progress holds a lock that is
taken without blocking, so use from a second thread raises `RuntimeError` instead of corrupting
llama.cpp's state.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import io
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from app.core.errors import ModelError
from app.core.messages import ChatMessage
from app.core.protocols import Completion, FinishReason, SamplingParams, TextDelta
from app.llm import warm_start as warm
from app.llm.chat_template import ChatTemplate
from app.llm.constraints import ConstraintCompiler, GuardedProcessor
from app.llm.gpu import LayerPlan, attempts, free_vram, plan_layers
from app.llm.models import GGUFInfo, check_gguf, fits_in_memory

if TYPE_CHECKING:
    from llama_cpp import Llama

llama_log = logging.getLogger("engram.llama")
log = logging.getLogger("engram.llm")

DEFAULT_CONTEXT_CAP = 8192
FALLBACK_CONTEXT = 4096  # for GGUFs that do not state their training context
MAX_REMEMBERED_OUTPUTS = 64  # replies whose generated tokens `tokenize` splices back in
TRUNCATION_ROOM = 2  # a constrained call may run to this multiple of its max_tokens
PREFILL_BATCH = 32  # tokens per prefill batch: the longest a waiting message can be held up

# ggml.h: NONE=0, DEBUG=1, INFO=2, WARN=3, ERROR=4, CONT=5 (continues the previous line).
# llama.cpp's INFO is a few hundred lines per load: it goes to DEBUG.
_LEVELS = {
    0: logging.DEBUG,
    1: logging.DEBUG,
    2: logging.DEBUG,
    3: logging.WARNING,
    4: logging.ERROR,
}
_log_state: dict[str, Any] = {"level": logging.DEBUG, "partial": "", "capture": None}
_log_callback: Any = None  # the ctypes callback must outlive every llama.cpp call


def _on_llama_log(level: int, text: bytes | None, _user_data: Any) -> None:
    if level != 5:
        _log_state["level"] = _LEVELS.get(level, logging.DEBUG)
    buffered = _log_state["partial"] + (text or b"").decode("utf-8", "replace")
    *lines, _log_state["partial"] = buffered.split("\n")
    for line in lines:
        if line.strip():
            llama_log.log(_log_state["level"], "%s", line.rstrip())
            if _log_state["capture"] is not None:
                _log_state["capture"].append((_log_state["level"], line.strip()))


def _route_llama_log(llama_cpp: Any) -> None:
    """Send llama.cpp's (and ggml's) log to the "engram.llama" logger, once per process."""
    global _log_callback
    if _log_callback is None:
        _log_callback = llama_cpp.llama_log_callback(_on_llama_log)
        llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def _import_llama_cpp() -> Any:
    try:
        import llama_cpp
    except (ImportError, OSError) as err:
        raise ModelError(
            "The llama.cpp library (llama-cpp-python) cannot be loaded.",
            hint=f"Reinstall Engram's dependencies ({err}).",
        ) from err
    _route_llama_log(llama_cpp)
    return llama_cpp


def _offloaded_layers(lines: Sequence[tuple[int, str]], requested: int, info: GGUFInfo) -> int:
    for _, line in lines:
        found = re.search(r"offloaded (\d+)/(\d+) layers to GPU", line)
        if found:
            return int(found.group(1))
    if requested == 0:
        return 0
    total = info.block_count + 1  # llama.cpp counts the output layer too
    return total if requested < 0 else min(requested, total)


class LlamaCppBackend:
    """A GGUF chat model in this process. Build it with `LlamaCppBackend.load(path)`."""

    def __init__(
        self, llm: Llama, info: GGUFInfo, *, gpu_layers: int, cache_dir: Path | None = None
    ) -> None:
        self._llm: Llama | None = llm
        self._info = info
        self._gpu_layers = gpu_layers
        self._n_ctx = int(llm.n_ctx())
        self._eos = int(llm.token_eos())
        self._template = ChatTemplate(
            info.chat_template,
            bos_token=self._token_text(int(llm.token_bos())),
            eos_token=self._token_text(self._eos),
        )
        self._constraints = ConstraintCompiler(llm, cache_dir, info.vocab_digest)
        self._outputs: OrderedDict[str, tuple[int, ...]] = OrderedDict()  # see `tokenize`
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._model_key: str | None = None
        self.gpu_sentence = "CPU only." if gpu_layers == 0 else f"{gpu_layers} layers on the GPU."

    @classmethod
    def load(
        cls,
        path: Path,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        cache_dir: Path | None = None,
    ) -> LlamaCppBackend:
        """Vet and load a GGUF. `None` means: the model's context (capped at 8192), every
        CPU core, and every layer on the GPU when llama.cpp was built with GPU support.
        `cache_dir` keeps compiled constraints on disk between processes."""
        info = check_gguf(path)
        n_ctx = n_ctx or min(info.context_length or FALLBACK_CONTEXT, DEFAULT_CONTEXT_CAP)
        fits, numbers = fits_in_memory(info, n_ctx)
        if not fits:
            raise ModelError(
                f"{info.path.name} is too big for the memory that is free now ({numbers}).",
                hint="Close other programs, pick a smaller context, or a smaller model.",
            )
        llama_cpp = _import_llama_cpp()
        can_offload = bool(llama_cpp.llama_supports_gpu_offload())
        automatic = n_gpu_layers is None
        free = free_vram() if can_offload and automatic else None
        plan = plan_layers(info, n_ctx, gpu_build=can_offload, free=free)
        requested = plan.layers if n_gpu_layers is None else n_gpu_layers
        # One core is left free: llama.cpp's workers spin-wait, and on a busy machine a thread
        # per core was measured 10x slower per token than cores - 1 (2-core box, shared).
        threads = n_threads or max(1, (os.cpu_count() or 2) - 1)
        llm, lines, used = cls._load_with_retry(llama_cpp, info, n_ctx, threads, requested, plan)
        offloaded = _offloaded_layers(lines, used if can_offload else 0, info)
        backend = cls(llm, info, gpu_layers=offloaded, cache_dir=cache_dir)
        backend.gpu_sentence = (
            plan.sentence
            if automatic and used == requested
            else (
                f"{offloaded} of {plan.total} layers on the GPU"
                + ("." if used == requested else f" (loading {requested} failed; fewer fit).")
            )
        )
        log.info(
            "loaded %s: n_ctx=%d threads=%d gpu_layers=%d template=%s. %s",
            info.path.name,
            backend.context_window,
            threads,
            backend.gpu_layers,
            backend.template_source,
            backend.gpu_sentence,
        )
        return backend

    @classmethod
    def _load_with_retry(
        cls, llama_cpp: Any, info: GGUFInfo, n_ctx: int, threads: int, layers: int, plan: LayerPlan
    ) -> tuple[Llama, list[tuple[int, str]], int]:
        """Construct with `layers` on the GPU; when that fails (CUDA out of memory, or the
        estimate was optimistic) try again with half as many, down to the CPU alone."""
        tries = attempts(layers, plan.total)
        for i, n in enumerate(tries):
            try:
                llm, lines = cls._construct(llama_cpp, info, n_ctx, threads, n)
                return llm, lines, n
            except ModelError as err:
                if i == len(tries) - 1:
                    raise
                log.warning(
                    "loading %s with %s GPU layers failed (%s); retrying with %d",
                    info.path.name,
                    "all" if n < 0 else n,
                    err.user_message,
                    tries[i + 1],
                )
        raise AssertionError("unreachable: attempts() is never empty")

    @staticmethod
    def _construct(
        llama_cpp: Any, info: GGUFInfo, n_ctx: int, threads: int, gpu_layers: int
    ) -> tuple[Llama, list[tuple[int, str]]]:
        lines: list[tuple[int, str]] = []
        printed = io.StringIO()
        _log_state["capture"] = lines
        try:
            # verbose=True keeps llama-cpp-python from redirecting the process's fds; what it
            # prints with print() during load is caught here and kept for the debug log.
            with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
                llm = llama_cpp.Llama(
                    model_path=str(info.path),
                    n_ctx=n_ctx,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=gpu_layers,
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError, MemoryError) as err:
            errors = [text for level, text in lines if level >= logging.ERROR]
            detail = errors[0] if errors else str(err)
            raise ModelError(
                f"llama.cpp could not load {info.path.name}.",
                hint=f"The file may be damaged or made for a newer llama.cpp ({detail}).",
            ) from err
        finally:
            _log_state["capture"] = None
            if printed.getvalue():
                llama_log.debug("llama-cpp-python during load:\n%s", printed.getvalue())
        llm.verbose = False  # no per-call prints to stderr from here on
        return llm, lines

    # --- properties -------------------------------------------------------------------------

    @property
    def context_window(self) -> int:
        return self._n_ctx

    @property
    def name(self) -> str:
        return self._info.path.stem

    @property
    def gpu_layers(self) -> int:
        """Layers offloaded to the GPU (0: CPU only)."""
        return self._gpu_layers

    @property
    def template_source(self) -> str:
        """Where the chat template came from: "gguf" (the model's own) or "fallback:chatml"."""
        return self._template.source

    @property
    def info(self) -> GGUFInfo:
        return self._info

    # --- prompts ----------------------------------------------------------------------------

    def render(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text exactly as the model will see it."""
        return self._template.render(messages)

    def tokenize(self, messages: Sequence[ChatMessage]) -> list[int]:
        """Prompt tokens: the rendered template, special tokens parsed. A GGUF template adds
        BOS itself when the model wants it; the ChatML fallback lets the model decide.

        The model's own recent replies keep the tokens it generated, spliced in where their
        text appears, instead of being re-tokenized: jumped-over and sampled tokens are not
        always the tokenizer's canonical split, and a re-tokenized reply would differ from
        the KV cache at its first such token, so everything after it would be evaluated again.
        """
        return self._text_tokens(self.render(messages))

    def _text_tokens(self, text: str) -> list[int]:
        llm = self._model()
        add_bos = self._template.source != "gguf"
        tokens: list[int] = []
        start = 0
        for at, reply, ids in _occurrences(text, self._outputs):
            piece = text[start:at].encode("utf-8")
            tokens += llm.tokenize(piece, add_bos=add_bos and not tokens, special=True)
            tokens += ids
            start = at + len(reply)
        tail = text[start:].encode("utf-8")
        return tokens + list(llm.tokenize(tail, add_bos=add_bos and not tokens, special=True))

    def _remember_output(self, text: str, tokens: Sequence[int]) -> None:
        """Keep a finished reply's tokens for `tokenize` (the newest few)."""
        if not text or "\ufffd" in text:
            return
        self._outputs[text] = tuple(tokens)
        self._outputs.move_to_end(text)
        while len(self._outputs) > MAX_REMEMBERED_OUTPUTS:
            self._outputs.popitem(last=False)

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        owner = self._owner
        if owner is not None and owner != threading.get_ident():
            raise RuntimeError("LlamaCppBackend is generating on another thread")
        return len(self.tokenize(messages))

    # --- generation -------------------------------------------------------------------------

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        return self._generate(tuple(messages), schema, params)

    def _generate(
        self,
        messages: Sequence[ChatMessage],
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        with self._exclusive():
            llm = self._model()
            prompt = self.tokenize(messages)
            if len(prompt) >= self._n_ctx:
                raise ModelError(
                    f"The prompt ({len(prompt)} tokens) does not fit the model's context "
                    f"window of {self._n_ctx} tokens.",
                    hint="Start a new conversation or raise the context size.",
                )
            budget = self._token_budget(params.max_tokens, len(prompt), schema is not None)
            processor = self._constraints.processor(schema, budget)
            reused = self._reusable_prefix(prompt)
            if schema is not None:
                completion = yield from self._constrained(llm, prompt, processor, params, budget)
            else:
                completion = yield from self._free(llm, prompt, processor, params, budget)
            if completion.completion_tokens > params.max_tokens:
                log.info(
                    "a constrained call needed %d tokens, over its %d: given more room (%s)",
                    completion.completion_tokens,
                    params.max_tokens,
                    completion.finish_reason,
                )
            yield replace(completion, evaluated_prompt_tokens=len(prompt) - reused)

    def _free(
        self,
        llm: Llama,
        prompt: list[int],
        processor: GuardedProcessor,
        params: SamplingParams,
        budget: int,
    ) -> Generator[TextDelta, None, Completion]:
        """Unconstrained text (summaries, reviews): llama-cpp-python's own completion loop,
        which also handles the chat template's stop strings."""
        chunks = llm.create_completion(
            prompt,
            stream=True,
            max_tokens=budget,
            temperature=params.temperature,
            top_p=params.top_p,
            repeat_penalty=params.repeat_penalty,
            seed=params.seed,
            stop=list(self._template.stops),
            logits_processor=_processor_list(processor),
        )
        pieces: list[str] = []
        finish: FinishReason = "length"
        try:
            for chunk in cast(Iterator[dict[str, Any]], chunks):
                choice = chunk["choices"][0]
                if choice["text"]:
                    pieces.append(choice["text"])
                    yield TextDelta(choice["text"])
                if choice.get("finish_reason") == "stop":
                    finish = "stop"
        finally:
            cast(Any, chunks).close()
        # every sampled token passed through the processor; an end-of-turn token is not text
        generated = processor.calls - 1 if finish == "stop" else processor.calls
        return Completion("".join(pieces), finish, len(prompt), len(prompt), max(0, generated))

    def _constrained(
        self,
        llm: Llama,
        prompt: list[int],
        processor: GuardedProcessor,
        params: SamplingParams,
        budget: int,
    ) -> Generator[TextDelta, None, Completion]:
        """A constrained call, sampled under `processor` with a loop of our own so that the
        tokens the schema forces are evaluated in one batch instead of one forward pass each:
        the opening (`StepConstraint.lead`) with the prompt, the rest with the token sampled
        before them (`StepConstraint.jump`). llama-cpp-python's `generate` takes the first
        token (it does the KV prefix reuse) and leaves its sampler (penalties, seed) for the
        rest."""
        import llama_cpp

        if params.seed is not None:
            llm.set_seed(params.seed)
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        texts = self._constraints.pieces()
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        lead = processor.lead()  # forced opening: evaluated in the prompt's batch
        pending = decoder.decode(b"".join(texts[t] for t in lead))
        first = llm.generate(
            prompt + lead,
            temp=params.temperature,
            top_p=params.top_p,
            repeat_penalty=params.repeat_penalty,
            logits_processor=_processor_list(processor),
        )
        try:
            sampled = next(first)
        finally:
            first.close()
        parts: list[str] = []
        emitted: list[int] = list(lead)
        generated = len(lead)
        finish: FinishReason = "length"
        while True:
            processor.raise_if_failed()
            if llama_cpp.llama_vocab_is_eog(vocab, sampled):
                finish = "stop"
                break
            generated += 1
            run = [sampled, *processor.jump(sampled, generated)]
            generated += len(run) - 1
            emitted += run
            text = pending + decoder.decode(b"".join(texts[t] for t in run))
            pending = ""
            if text:
                parts.append(text)
                yield TextDelta(text)
            if generated >= budget:
                break
            llm.eval(run)
            sampled = llm.sample(logits_processor=_processor_list(processor))
        processor.raise_if_failed()
        if processor.calls == 0:
            raise ModelError("The reply constraint was never applied; refusing the output.")
        tail = pending + decoder.decode(b"", final=True)
        if tail:
            parts.append(tail)
            yield TextDelta(tail)
        if finish == "stop":
            self._remember_output("".join(parts), emitted)
        return Completion("".join(parts), finish, len(prompt), len(prompt), generated)

    def prefill(self, messages: Sequence[ChatMessage], *, upto: str) -> Generator[int, None, None]:
        """Evaluate the rendered prompt's text before `upto` into the KV cache, in batches of
        PREFILL_BATCH tokens, one per item yielded (see `Prefiller`). The lock is held only
        inside a batch, so a generation may come between two; the next batch then starts
        from whatever the cache holds by then. Should the head's last token merge with the
        words that follow it in the real prompt, the common prefix ends one token earlier:
        that token is evaluated again, nothing else."""
        text = self.render(messages)
        at = text.find(upto)
        if at <= 0:
            return
        if _whole_cache_only(self._model()):
            return  # a prefill would be thrown away
        with self._exclusive():
            tokens = self._text_tokens(text[:at])
        done = 0
        while True:
            with self._exclusive():
                llm = self._model()
                cached = self._cached_prefix(tokens)
                if cached >= len(tokens):
                    return
                batch = tokens[cached : cached + PREFILL_BATCH]
                llm.n_tokens = cached
                llm.eval(batch)
            done += len(batch)
            yield done

    def _token_budget(self, asked: int, prompt: int, constrained: bool) -> int:
        """Tokens a call may generate. A constrained call cut at `asked` would be a half
        call that cannot parse, so it gets once more room (`TRUNCATION_ROOM` x asked, within
        the window) in the same pass: no re-generation, and what was streamed stays true.
        The constraint steers the call to close inside that room (`automaton`)."""
        room = self._n_ctx - prompt
        wanted = asked * TRUNCATION_ROOM if constrained else asked
        return max(1, min(wanted, room))

    def _reusable_prefix(self, prompt: Sequence[int]) -> int:
        """Prompt tokens llama.cpp will take from its KV cache (mirrors `Llama.generate`)."""
        llm = self._model()
        if _whole_cache_only(llm):
            return 0  # llama.cpp re-evaluates everything
        common = self._cached_prefix(prompt)
        if common < len(prompt):
            return common
        exact = llm.n_tokens == len(prompt) and not getattr(llm, "_requires_eval", True)
        return common if exact else max(0, common - 1)  # one token is replayed for logits

    def _cached_prefix(self, tokens: Sequence[int]) -> int:
        """How many leading `tokens` the KV cache holds already."""
        cached = np.asarray(self._model()._input_ids)[: len(tokens)]
        differs = np.flatnonzero(cached != np.asarray(tokens[: len(cached)], dtype=cached.dtype))
        return int(differs[0]) if differs.size else len(cached)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        if not self._lock.acquire(blocking=False):
            same = self._owner == threading.get_ident()
            raise RuntimeError(
                "LlamaCppBackend: a previous stream on this thread is still open; close it first"
                if same
                else "LlamaCppBackend is in use by another thread; one thread must own it"
            )
        self._owner = threading.get_ident()
        try:
            yield
        finally:
            self._owner = None
            self._lock.release()

    # --- warm start -------------------------------------------------------------------------

    def warm_start(
        self,
        full: Sequence[ChatMessage],
        variant: Sequence[ChatMessage],
        *,
        agent_id: str,
        cache_dir: Path,
        cap_bytes: int = warm.DEFAULT_CAP_BYTES,
    ) -> warm.WarmStart:
        """Put an agent's static prefix into the KV cache: restored from disk when saved by an
        earlier launch, else computed and saved. The prefix is what two renderings of the
        agent's prompt share (`variant` differs right after core memory), so no layout
        knowledge is duplicated here."""
        with self._exclusive():
            llm = self._model()
            a, b = self.tokenize(full), self.tokenize(variant)
            tokens = a[: warm.common_prefix(a, b)]
            if self._model_key is None:
                self._model_key = warm.model_key(self._info, self._n_ctx)
            return warm.warm_start(
                llm,
                tokens,
                cache_dir=cache_dir,
                agent_id=agent_id,
                key=self._model_key,
                cap_bytes=cap_bytes,
            )

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Free the model and its context. Safe to call twice."""
        with self._exclusive():
            llm, self._llm = self._llm, None
            if llm is not None:
                llm.close()

    def _model(self) -> Llama:
        if self._llm is None:
            raise ModelError("The model has been closed.", hint="Load it again.")
        return self._llm

    def _token_text(self, token: int) -> str:
        if token < 0 or self._llm is None:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", "replace")


def _whole_cache_only(llm: Llama) -> bool:
    """A recurrent or hybrid model's cache cannot be cut back to a shared prefix: llama.cpp
    starts such a prompt from scratch."""
    return bool(getattr(llm, "_is_recurrent", False) or getattr(llm, "_is_hybrid", False))


def _occurrences(
    text: str, outputs: Mapping[str, tuple[int, ...]]
) -> list[tuple[int, str, tuple[int, ...]]]:
    """Non-overlapping (position, reply, tokens) of remembered replies in `text`, in order."""
    found = []
    for reply, ids in outputs.items():
        at = text.find(reply)
        while at >= 0:
            found.append((at, reply, ids))
            at = text.find(reply, at + len(reply))
    found.sort(key=lambda item: (item[0], -len(item[1])))
    chosen, end = [], 0
    for at, reply, ids in found:
        if at >= end:
            chosen.append((at, reply, ids))
            end = at + len(reply)
    return chosen


def _processor_list(processor: GuardedProcessor) -> Any:
    from llama_cpp import LogitsProcessorList

    return LogitsProcessorList([processor])
