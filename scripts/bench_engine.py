"""Engine benchmark: the real Agent on a real GGUF (default: the built-in SmolLM2-135M).

Every figure is a ratio of two things measured in this run, on this machine, so the shared
box's load cancels out as far as it can:

- prefix_reuse: prompt tokens llama.cpp evaluated ÷ tokens that were new in each call (not a
  prefix of the previous call's prompt + its output), over a scripted conversation of 30 turns
  through the real Agent (real SQLite, LanceDB, MiniLM) after its greeting (which the app says
  at launch). 1.0 is the limit; goal <= 1.2.
  `prefix_reuse_perf` is the same from llama.cpp's own perf counters.
- constraint_overhead: time per generated token with the step schema (outlines) ÷ without any
  processor (raw Llama), same prompts, prompt already cached, first token excluded.
- agent_vs_raw: the agent's generated tokens per second of turn wall time (everything: prompt
  evaluation, constraint, tools, storage) ÷ raw Llama generation tokens/s on the same prompts
  (up to RAW_SAMPLE of the conversation's calls, spread evenly over it).
  Between turns the agent prefills the next prompt's known head (`Agent.anticipate`, what the
  app does while the user reads and types); `agent_vs_raw_with_idle` counts that time too, and
  its tokens count as evaluated in `prefix_reuse`.
- first_word_ratio: Enter -> first visible reply character ÷ raw Llama's time to first token on
  the turn's first prompt from the KV state the previous turn left (what llama.cpp alone has at
  Enter); `first_word_ratio_same_cache` divides by raw Llama from the agent's own state at
  Enter instead (the prefilled head included). States are saved and restored around the turn.
- warm_start_speedup: second launch's time to first reply character ÷ the first launch's, with
  the same agent (launch = load the model, open the agent, answer "Hello").
- valid_calls: schema-valid calls (parsed by the toolbox AND checked by jsonschema) ÷ calls,
  over >= 200 varied prompts (half at temperature 0.7); must be 1.0.

With layers on a GPU, the table also says how many and prints the agent's tokens/s beside raw
llama.cpp's on the same GGUF and prompts (`gpu_layers` in the JSON; 0 on a CPU).

Prints a table, then as its LAST line one JSON object with those keys (and a few details).

    .venv/bin/python scripts/bench_engine.py                 # 30 turns, 200 prompts
    .venv/bin/python scripts/bench_engine.py --quick         # 6 turns, 24 prompts
    .venv/bin/python scripts/bench_engine.py --model ~/models/qwen2.5-7b-instruct-q4_k_m.gguf
    .venv/bin/python scripts/bench_engine.py --quick --schemes 20   # + decoding schemes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from app.config import Settings, set_offline_switches  # noqa: E402

set_offline_switches()

from app.core import events as ev  # noqa: E402
from app.core.agent import Agent  # noqa: E402
from app.core.bootstrap import get_or_create_agent  # noqa: E402
from app.core.clock import SystemClock  # noqa: E402
from app.core.context import event_json  # noqa: E402
from app.core.errors import ToolError  # noqa: E402
from app.core.messages import ChatMessage  # noqa: E402
from app.core.protocols import Completion, SamplingParams, TextDelta  # noqa: E402
from app.llm import constraints  # noqa: E402
from app.llm.llamacpp import LlamaCppBackend  # noqa: E402
from app.llm.string_budget import strip_max_length  # noqa: E402
from app.llm.warm_start import common_prefix  # noqa: E402
from app.runtime import Runtime, load_backend, open_stores  # noqa: E402

RAW_SAMPLE = 30  # conversation calls replayed for the raw baseline and the constraint overhead

TURNS = [
    "Hi! My name is Dana and I live in Lisbon.",
    "I work as a nurse, mostly night shifts.",
    "What do you remember about me so far?",
    "My sister Ana is getting married in June.",
    "Can you suggest a wedding gift under 100 euros?",
    "I prefer tea to coffee, green tea especially.",
    "Please remember that I am allergic to peanuts.",
    "What should I cook tonight? Something quick.",
    "I started learning the piano last month.",
    "Any tips for practising when I am tired after work?",
    "My cat is called Miso; she is 4 years old.",
    "What is a good name for a second cat?",
    "I am planning a trip to Japan in the autumn.",
    "Which cities would you visit for ten days?",
    "Remind me what my sister's name is.",
    "I changed jobs: I now work day shifts at a clinic.",
    "How do I ask for a raise politely?",
    "I finished my first piano piece today!",
    "What did I say I am allergic to?",
    "Tell me a short joke about cats.",
    "My favourite book is The Left Hand of Darkness.",
    "Recommend a book like it.",
    "I have been sleeping badly this week.",
    "Give me three ideas to sleep better.",
    "Ana's wedding moved to July.",
    "What do you know about my job now?",
    "I want to run a 10 km race next spring.",
    "Make me a simple weekly running plan.",
    "Summarise what you know about me in two sentences.",
    "Thanks, that is all for today. Good night!",
]

SUBJECTS = ["my garden", "the weather", "my brother Tom", "a job interview", "my old car",
            "a birthday party", "learning Spanish", "my grandmother", "a broken laptop",
            "the football match", "my neighbour", "a cooking class", "my dentist",
            "a long flight", "my new flat", "a chess game", "the library", "my bike",
            "a concert", "my holidays"]  # fmt: skip
FRAMES = ["Tell me something about {}.", "I want to talk about {}.", "Remember this: {}.",
          "What do you think of {}?", "Search your memory for {}.", "Note down {} for later.",
          "I am worried about {}.", "Can you help me plan {}?", "Do you recall {}?",
          "Write a short message about {}.", "Update what you know: {} matters to me."]  # fmt: skip


def varied_prompts(n: int) -> list[str]:
    """n different user messages (frames x subjects, in a fixed interleaved order)."""
    out = [f.format(s) for i, s in enumerate(SUBJECTS) for f in FRAMES[i % 3 :] + FRAMES[: i % 3]]
    return out[:n]


# ---- recording the agent's calls -------------------------------------------------------


@dataclass
class CallRecord:
    messages: tuple[ChatMessage, ...]
    schema: Mapping[str, Any] | None
    params: SamplingParams
    prompt: list[int]
    new_tokens: int
    completion: Completion | None = None
    started: float = 0.0
    first: float = 0.0  # first streamed piece: prompt evaluated, first token sampled
    ended: float = 0.0


@dataclass
class Recorder:
    """A ChatBackend proxy that keeps every call's prompt tokens and its new-token count."""

    inner: LlamaCppBackend
    calls: list[CallRecord] = field(default_factory=list)
    previous: list[int] = field(default_factory=list)
    prefilled: int = 0  # tokens evaluated by idle-time prefills

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @property
    def name(self) -> str:
        return self.inner.name

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.inner.count_tokens(messages)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        schema: Mapping[str, Any] | None,
        params: SamplingParams,
    ) -> Iterator[TextDelta | Completion]:
        prompt = self.inner.tokenize(messages)
        new = len(prompt) - common_prefix(prompt, self.previous)
        record = CallRecord(tuple(messages), schema, params, prompt, new)
        self.calls.append(record)
        record.started = time.perf_counter()
        inner = self.inner.stream(messages, schema=schema, params=params)
        try:
            for item in inner:
                if isinstance(item, Completion):
                    record.ended = time.perf_counter()
                    record.completion = item
                    self.previous = prompt + self._tokens(item.text)
                elif not record.first:
                    record.first = time.perf_counter()
                yield item
        finally:
            inner.close()  # type: ignore[attr-defined]

    def prefill(self, messages: Sequence[ChatMessage], *, upto: str) -> Iterator[int]:
        """The backend's idle-time prefill; the tokens it evaluates are counted (they are
        prompt evaluation too, only off the turn's clock)."""
        done = 0
        for done in self.inner.prefill(messages, upto=upto):
            yield done
        self.prefilled += done

    def _tokens(self, text: str) -> list[int]:
        """The reply's tokens as the next prompt will hold them: the generated ones where the
        backend splices them back in (`LlamaCppBackend.tokenize`), else re-tokenized."""
        if text in self.inner._outputs:
            return list(self.inner._outputs[text])
        llm = self.inner._model()
        return list(llm.tokenize(text.encode(), add_bos=False, special=False))


# ---- phases ----------------------------------------------------------------------------


def make_agent(runtime: Runtime, backend: Any, name: str) -> Agent:
    runtime.backend = backend
    agent, _ = runtime.agent(name)
    return agent


def run_turn(agent: Agent, text: str) -> dict[str, Any]:
    """One user turn; returns its wall time, time to first reply char and token counts."""
    started = time.perf_counter()
    first: float | None = None
    steps = tokens = 0
    agent.submit(text)
    for event in agent.run():
        if isinstance(event, ev.ReplyDelta) and first is None and event.text:
            first = time.perf_counter() - started
        elif isinstance(event, ev.StepDone):
            steps += 1
            tokens += event.completion_tokens
    return {"wall": time.perf_counter() - started, "first": first, "steps": steps,
            "tokens": tokens}  # fmt: skip


def perf_counters(backend: LlamaCppBackend) -> tuple[int, int]:
    import llama_cpp

    perf = llama_cpp.llama_perf_context(backend._model().ctx)
    return int(perf.n_p_eval), int(perf.n_eval)


def conversation(
    runtime: Runtime, backend: LlamaCppBackend, turns: int, probes: set[int]
) -> dict[str, Any]:
    """The scripted conversation: prefix reuse, agent speed, first-word latency."""
    recorder = Recorder(backend)
    agent = make_agent(runtime, recorder, "bench-chat")
    for only in ((), ("send_message",)):  # one-time compile, measured apart (index_phase)
        backend._constraints.index(agent.toolbox.union_schema(agent.memory.labels, only))
    llm = backend._model()
    recorder.previous = list(llm.input_ids[: llm.n_tokens])  # the warm-started prefix
    for _ in agent.run():  # the greeting: the app says it at launch, before the user can type
        pass  # (launches are timed by warm_start_phase)
    recorder.calls.clear()
    results, ratios, idle = [], [], 0.0
    decoded = [0, 0]  # llama.cpp's prompt-batch and single-token decodes, turns and prefills
    for i in range(turns):
        probe = i in probes
        # the cache as the last turn left it (all llama.cpp alone would have), then the
        # idle-time prefill of the next prompt's head (the user reading and typing)
        left = llm.save_state() if probe else None
        p0, e0 = perf_counters(backend)
        started = time.perf_counter()
        for _ in agent.anticipate():
            pass
        idle += time.perf_counter() - started
        before, first_call = (llm.save_state() if probe else None), len(recorder.calls)
        result = run_turn(agent, TURNS[i % len(TURNS)])
        p1, e1 = perf_counters(backend)
        decoded = [decoded[0] + p1 - p0, decoded[1] + e1 - e0]
        results.append(result)
        if left is not None and before is not None and result["first"] is not None:
            after = llm.save_state()
            prompt = recorder.calls[first_call].prompt
            raws = []
            for state in (left, before):
                llm.load_state(state)
                raws.append(raw_first_token(backend, prompt))
            ratios.append((result["first"], *raws))
            llm.load_state(after)
    return summarise_conversation(recorder, results, ratios, decoded, idle)


def raw_first_token(backend: LlamaCppBackend, prompt: list[int]) -> float:
    llm = backend._model()
    started = time.perf_counter()
    chunks = llm.create_completion(prompt, max_tokens=1, stream=True, temperature=0.0)
    for _ in cast(Iterator[Any], chunks):
        break
    elapsed = time.perf_counter() - started
    cast(Any, chunks).close()
    return elapsed


def summarise_conversation(
    recorder: Recorder,
    results: list[dict[str, Any]],
    ratios: list[tuple[float, float, float]],
    decoded: list[int],
    idle: float,
) -> dict[str, Any]:
    finished = [(c, c.completion) for c in recorder.calls if c.completion is not None]
    done = [c for c, _ in finished]
    evaluated = recorder.prefilled + sum(x.evaluated_prompt_tokens for _, x in finished)
    generated = sum(x.completion_tokens for _, x in finished)
    new = sum(c.new_tokens for c in done)
    p_eval, n_eval = decoded
    # perf: a prompt batch counts in n_p_eval, every single-token decode in n_eval; each
    # generated token but the last is decoded once, a replayed prompt token is a 1-token decode
    perf_evaluated = p_eval + n_eval - (generated - len(done))
    wall = sum(r["wall"] for r in results)
    to_first = sum(c.first - c.started for c in done if c.first)
    generating = sum(c.ended - c.first for c in done if c.first)
    return {
        "turns": len(results),
        "calls": len(done),
        "steps_per_turn": len(done) / max(1, len(results)),
        "new_tokens": new,
        "evaluated_tokens": evaluated,
        "prompt_tokens": sum(len(c.prompt) for c in done),
        "prefix_reuse": evaluated / max(1, new),
        "prefix_reuse_perf": perf_evaluated / max(1, new),
        "agent_tokens": sum(r["tokens"] for r in results),
        "prefilled_tokens": recorder.prefilled,
        "idle_prefill_s": idle,
        "agent_tps": sum(r["tokens"] for r in results) / wall,
        "agent_tps_with_idle": sum(r["tokens"] for r in results) / (wall + idle),
        "first_word_s": sum(r[0] for r in ratios) / max(1, len(ratios)),
        "raw_first_token_s": sum(r[1] for r in ratios) / max(1, len(ratios)),
        "raw_first_token_same_cache_s": sum(r[2] for r in ratios) / max(1, len(ratios)),
        "first_word_ratio": sum(r[0] for r in ratios) / max(1e-9, sum(r[1] for r in ratios)),
        "first_word_ratio_same_cache": sum(r[0] for r in ratios)
        / max(1e-9, sum(r[2] for r in ratios)),
        "probes": len(ratios),
        "share_prompt_eval": to_first / wall,  # of turn time: until the first token
        "share_generation": generating / wall,
        "share_other": 1 - (to_first + generating) / wall,  # tools, storage, tokenising
        "sample": [c for c in done if c.schema is not None],
    }


def spread(calls: list[CallRecord], n: int) -> list[CallRecord]:
    """At most n calls, evenly spaced over the conversation: the raw baseline must see the
    same mix of short and long prompts as the turns it is compared with (generation slows as
    the context grows; the first calls alone would flatter the baseline)."""
    if len(calls) <= n or n < 2:
        return list(calls)[:n]
    return [calls[round(i * (len(calls) - 1) / (n - 1))] for i in range(n)]


def timed_stream(chunks: Iterator[Any]) -> tuple[float, float, int]:
    """(time to first piece, time to the end, pieces) of a stream of deltas/chunks."""
    started = time.perf_counter()
    first, count = 0.0, 0
    for chunk in chunks:
        if isinstance(chunk, Completion):
            count = chunk.completion_tokens
            continue
        if not first:
            first = time.perf_counter() - started
        if isinstance(chunk, dict):
            count += 1
    return first, time.perf_counter() - started, count


def generation_speed(backend: LlamaCppBackend, sample: list[CallRecord]) -> dict[str, Any]:
    """Per-token time of the same cached prompts: the step schema vs no processor at all."""
    llm = backend._model()
    sums = {"constrained": [0.0, 0], "raw": [0.0, 0]}
    for i, call in enumerate(sample):
        budget = max(16, call.completion.completion_tokens if call.completion else 64)
        _drain(llm.create_completion(call.prompt, max_tokens=1, temperature=0.0))  # cache it
        order = ("constrained", "raw") if i % 2 == 0 else ("raw", "constrained")
        for mode in order:
            if mode == "constrained":
                chunks: Iterator[Any] = backend.stream(
                    call.messages, schema=call.schema, params=call.params
                )
            else:
                chunks = llm.create_completion(  # type: ignore[assignment]
                    call.prompt, max_tokens=budget, stream=True, temperature=0.0,
                    repeat_penalty=call.params.repeat_penalty,
                )  # fmt: skip
            first, total, n = timed_stream(chunks)
            if n > 1:
                sums[mode][0] += total - first
                sums[mode][1] += n - 1
    per = {k: v[0] / max(1, v[1]) for k, v in sums.items()}
    return {
        "raw_calls": len(sample),
        "constrained_ms_per_token": 1000 * per["constrained"],
        "raw_ms_per_token": 1000 * per["raw"],
        "raw_tps": 1 / per["raw"] if per["raw"] else 0.0,
        "constraint_overhead": per["constrained"] / per["raw"] if per["raw"] else 0.0,
    }


def _drain(result: Any) -> None:
    if not isinstance(result, dict):
        for _ in result:
            pass


def valid_calls(runtime: Runtime, backend: LlamaCppBackend, n: int) -> dict[str, Any]:
    """n varied user messages against the full step schema; every output must validate."""
    import jsonschema

    agent = make_agent(runtime, backend, "bench-valid")
    labels = agent.memory.labels
    schema = agent.toolbox.union_schema(labels)
    system = ChatMessage("system", agent.system_parts([]).render())
    now = datetime.now(UTC)
    valid, lengths = 0, 0
    functions: dict[str, int] = {}
    failures: list[str] = []
    for i, text in enumerate(varied_prompts(n)):
        user = ChatMessage("user", event_json("user_message", text, now))
        params = SamplingParams(400, 0.0 if i % 2 == 0 else 0.7, repeat_penalty=1.1, seed=i)
        final = [x for x in backend.stream([system, user], schema=schema, params=params)][-1]
        assert isinstance(final, Completion)
        lengths += final.finish_reason == "length"
        try:
            data = json.loads(final.text)
            jsonschema.validate(data, schema)
            call = agent.toolbox.parse(data, labels)
        except (ValueError, jsonschema.ValidationError, ToolError) as err:
            failures.append(f"{text!r}: {err}"[:200])
            continue
        valid += final.finish_reason == "stop"
        functions[call.name] = functions.get(call.name, 0) + 1
    return {"valid_calls": valid / max(1, n), "valid_n": n, "truncated": lengths,
            "functions": functions, "failures": failures[:5]}  # fmt: skip


def index_phase(runtime: Runtime, backend: LlamaCppBackend, work: Path) -> dict[str, Any]:
    """The step schema's index: compiled from scratch vs loaded from the disk cache."""
    from app.llm.constraint_cache import index_path

    agent = make_agent(runtime, backend, "bench-index")
    schema = agent.toolbox.union_schema(agent.memory.labels)
    compiler = backend._constraints
    constraints.clear_cache()
    started = time.perf_counter()
    compiler.index(schema)  # compiles and saves (a fresh cache dir)
    compiled = time.perf_counter() - started
    constraints.clear_cache()
    started = time.perf_counter()
    compiler.index(schema)  # from disk
    loaded = time.perf_counter() - started
    path = index_path(
        work / "main" / "cache",
        compiler.fingerprint,
        constraints.canonical_schema(strip_max_length(schema)),
    )
    size = path.stat().st_size if path.exists() else 0
    return {"index_compile_save_s": compiled, "index_disk_load_s": loaded,
            "index_disk_mb": size / 1024**2, "index_load_speedup": loaded / compiled}  # fmt: skip


def schemes_phase(runtime: Runtime, backend: LlamaCppBackend, n: int) -> dict[str, Any]:
    from bench_engine_schemes import compare

    agent = make_agent(runtime, backend, "bench-schemes")
    system = ChatMessage("system", agent.system_parts([]).render())
    now = datetime.now(UTC)
    users = [ChatMessage("user", event_json("user_message", t, now)) for t in varied_prompts(n)]
    return compare(backend, agent, users, system)


def launch(root: Path, settings: Settings, model: str | None) -> tuple[float, str]:
    """Open stores, load the model, open the agent (warm start), answer "Hello": seconds to
    the first reply character, and what the warm start did."""
    constraints.clear_cache()  # a new process would not have them in memory
    started = time.perf_counter()
    runtime = open_stores(root)
    runtime.settings = settings
    try:
        backend = load_backend(settings, model, root=root)
        agent = make_agent(runtime, backend, "bench-launch")
        result = run_turn(agent, "Hello!")
        outcome = getattr(runtime.last_warm_start, "outcome", "none")
        first = result["first"] if result["first"] is not None else result["wall"]
        return time.perf_counter() - started - result["wall"] + first, str(outcome)
    finally:
        runtime.close()


def warm_start_phase(work: Path, settings: Settings, model: str | None) -> dict[str, Any]:
    """First launch (nothing cached) vs second launch (same agent, caches from the first)."""
    first_root, second_root = work / "launch-1", work / "launch-2"
    runtime = open_stores(first_root)
    get_or_create_agent(runtime.recall, SystemClock(), "bench-launch")
    runtime.close()
    shutil.copytree(first_root, second_root)  # the same agent, before any turn
    cold, _ = launch(first_root, settings, model)
    shutil.copytree(first_root / "cache", second_root / "cache")
    warm, outcome = launch(second_root, settings, model)
    return {"first_launch_s": cold, "second_launch_s": warm,
            "warm_start_speedup": warm / cold, "warm_outcome": outcome}  # fmt: skip


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 turns, 24 prompts")
    parser.add_argument("--model", help="a .gguf file (default: the built-in demo model)")
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--ctx", type=int, default=None, help="context window (default: app's)")
    parser.add_argument("--turns", type=int, help="conversation turns (default 30 / 6)")
    parser.add_argument("--prompts", type=int, help="validity prompts (default 200 / 24)")
    parser.add_argument(
        "--schemes", type=int, default=0, metavar="N",
        help="also compare decoding schemes (union / two-phase / GBNF) on N prompts",
    )  # fmt: skip
    return parser.parse_args(argv)


ROWS = [
    ("prefix_reuse", "evaluated ÷ new prompt tokens (agent, all calls)", "<= 1.2"),
    ("prefix_reuse_perf", "same, from llama.cpp perf counters", "<= 1.2"),
    ("constraint_overhead", "ms/token with schema ÷ raw Llama", "<= 1.15"),
    ("agent_vs_raw", "agent end-to-end tok/s ÷ raw generation tok/s", ">= 0.85"),
    ("agent_vs_raw_with_idle", "same, idle-time prefill counted as turn time", ">= 0.85"),
    ("first_word_ratio", "Enter -> first reply char ÷ raw first token", "<= 1.5"),
    ("first_word_ratio_same_cache", "same, raw from the prefilled cache too", "<= 1.5"),
    ("warm_start_speedup", "2nd launch ÷ 1st launch, to first reply char", "<= 0.3"),
    ("valid_calls", "schema-valid calls ÷ calls", "= 1.0"),
]


EXTRA_KEYS = ("agent_tps", "raw_tps", "first_launch_s", "second_launch_s", "valid_n", "turns",
              "model", "index_disk_load_s", "index_compile_save_s", "peak_rss_mb",
              "schemes", "gpu_layers")  # fmt: skip


def print_table(result: Mapping[str, Any]) -> None:
    print(f"{'figure':<28} {'value':>9}  {'goal':<8} meaning")
    for key, meaning, goal in ROWS:
        print(f"{key:<28} {result[key]:>9.3f}  {goal:<8} {meaning}")
    print()
    if result.get("gpu_layers"):
        print(
            f"  GPU ({result['offload']}): agent {result['agent_tps']:.1f} tok/s, raw llama.cpp "
            f"{result['raw_tps']:.1f} tok/s on the same GGUF and prompts"
        )
    details = ("turns", "calls", "steps_per_turn", "new_tokens", "evaluated_tokens",
               "prompt_tokens", "agent_tps", "raw_tps", "raw_calls", "constrained_ms_per_token",
               "raw_ms_per_token", "first_word_s", "raw_first_token_s",
               "raw_first_token_same_cache_s", "probes", "prefilled_tokens", "idle_prefill_s",
               "share_prompt_eval", "share_generation", "share_other",
               "first_launch_s", "second_launch_s", "warm_outcome", "valid_n", "truncated",
               "functions", "index_compile_save_s", "index_disk_load_s", "index_disk_mb",
               "peak_rss_mb")  # fmt: skip
    for key in details:
        value = result[key]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"  {key:<28} {shown}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    turns = args.turns or (6 if args.quick else 30)
    prompts = args.prompts or (24 if args.quick else 200)
    probes = {1, 3} if args.quick else {1, 5, 10, 15, 20, 25}
    settings = Settings(threads=args.threads, context_window=args.ctx)
    with tempfile.TemporaryDirectory(prefix="bench-engine-") as tmp:
        work = Path(tmp)
        result: dict[str, Any] = warm_start_phase(work, settings, args.model)
        runtime = open_stores(work / "main")
        try:
            backend = load_backend(settings, args.model, root=work / "main")
            assert isinstance(backend, LlamaCppBackend)
            result.update(index_phase(runtime, backend, work))
            talk = conversation(runtime, backend, turns, {p for p in probes if p < turns})
            result.update(talk)
            result.update(generation_speed(backend, spread(talk.pop("sample"), RAW_SAMPLE)))
            result.update(valid_calls(runtime, backend, prompts))
            result["agent_vs_raw"] = result["agent_tps"] / max(1e-9, result["raw_tps"])
            result["agent_vs_raw_with_idle"] = result["agent_tps_with_idle"] / max(
                1e-9, result["raw_tps"]
            )
            result["model"] = Path(args.model).name if args.model else "built-in SmolLM2-135M"
            result["threads"] = args.threads
            result["gpu_layers"] = backend.gpu_layers
            result["offload"] = backend.gpu_sentence
            result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print_table(result)
            sys.stdout.flush()
            if args.schemes:
                result["schemes"] = schemes_phase(runtime, backend, args.schemes)
        finally:
            runtime.close()
    for name, row in result.get("schemes", {}).items():
        print(f"  scheme {name:<10} " + "  ".join(f"{k} {v:.3f}" for k, v in row.items()))
    for failure in result["failures"]:
        print("  invalid:", failure)
    keys = [k for k, _, _ in ROWS] + list(EXTRA_KEYS)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                      for k, v in result.items() if k in keys}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
