"""Recursive summarisation of evicted messages, safe with small models.

The evicted text can be larger than the model's window, so it is folded in chunks:
summary_k = summarise(summary_{k-1} + chunk_k). A small model often returns nothing, an echo of
its instructions or an invented transcript, so every candidate is checked before it is installed;
a rejected candidate keeps the old summary plus a deterministic digest of what was evicted, so
the agent never loses track of what happened (the full text stays in recall storage anyway).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.core.messages import ChatMessage, Kind, Message
from app.core.prompts import SUMMARY_INSTRUCTIONS
from app.core.protocols import ChatBackend, Completion, SamplingParams

_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9']{4,}")
_STOP = frozenset(
    (
        "this that with have from your what when where which there their about would could "
        "should will been were they them then than into just like more some time user "
        "assistant message function summary conversation"
    ).split()
)


@dataclass(frozen=True)
class SummaryResult:
    text: str
    from_model: bool  # False: the model's summaries were rejected and a digest was used


def transcript_line(m: Message) -> str:
    """A message as plain text for the summariser (no JSON noise)."""
    if m.kind == Kind.USER:
        return f"User: {m.text}"
    if m.kind == Kind.FUNCTION_CALL:
        return f"Assistant: {m.text}" if m.text else ""
    if m.kind == Kind.FUNCTION_RESULT and m.text:
        return f"(memory: {m.text[:200]})"
    return ""


class Summarizer:
    """Folds evicted messages into the running summary using the chat backend itself."""

    def __init__(
        self,
        backend: ChatBackend,
        count: Callable[[str], int],
        *,
        max_summary_tokens: int = 300,
    ) -> None:
        self._backend = backend
        self._count = count
        self._max_tokens = max_summary_tokens

    @property
    def max_tokens(self) -> int:
        """About the most a summary takes (the model's reply budget; a digest is cut near it)."""
        return self._max_tokens

    def summarize(self, previous: str, evicted: Sequence[Message]) -> SummaryResult:
        lines = [line for line in (transcript_line(m) for m in evicted) if line]
        if not lines:
            return SummaryResult(previous, True)
        summary, all_ok = previous, True
        for chunk in self._chunks(lines, previous):
            candidate = self._generate(summary, chunk)
            if candidate is not None and plausible(candidate, chunk):
                summary = candidate
            else:
                all_ok = False
                summary = self._with_digest(summary, chunk)
        return SummaryResult(summary, all_ok)

    def _budget(self) -> int:
        """Tokens a chunk may take: the window less instructions, old summary and the reply."""
        fixed = self._count(SUMMARY_INSTRUCTIONS) + 2 * self._max_tokens + 64
        return max(128, self._backend.context_window - fixed)

    def _chunks(self, lines: list[str], previous: str) -> list[str]:
        budget = self._budget()
        chunks: list[str] = []
        current: list[str] = []
        used = 0
        for line in lines:
            cost = self._count(line) + 1
            if cost > budget:  # one huge message: keep its start
                line = line[: budget * 3]
                cost = budget
            if current and used + cost > budget:
                chunks.append("\n".join(current))
                current, used = [], 0
            current.append(line)
            used += cost
        if current:
            chunks.append("\n".join(current))
        return chunks

    def _generate(self, previous: str, chunk: str) -> str | None:
        prompt = (
            f"Summary so far:\n{previous or '(none)'}\n\n"
            f"New conversation:\n{chunk}\n\nUpdated summary:"
        )
        messages = [ChatMessage("system", SUMMARY_INSTRUCTIONS), ChatMessage("user", prompt)]
        params = SamplingParams(max_tokens=self._max_tokens, temperature=0.0, repeat_penalty=1.1)
        final: Completion | None = None
        for item in self._backend.stream(messages, schema=None, params=params):
            if isinstance(item, Completion):
                final = item
        if final is None or final.finish_reason == "cancelled":
            return None
        return final.text.strip()

    def _with_digest(self, summary: str, chunk: str) -> str:
        """Old summary + the first words of each evicted user line, bounded in size."""
        digest = "; ".join(
            line.removeprefix("User: ")[:120]
            for line in chunk.splitlines()
            if line.startswith("User: ")
        )
        merged = f"{summary}\nEarlier the user said: {digest}".strip() if digest else summary
        limit = self._max_tokens * 4
        return merged if len(merged) <= limit else "…" + merged[-limit:]


def plausible(candidate: str, source: str) -> bool:
    """A summary must be non-empty prose, not JSON or a role-play transcript, not a loop, and
    share some content words with what it summarises."""
    text = candidate.strip()
    if len(text) < 20 or text.startswith(("{", "[")):
        return False
    if re.search(r"^\s*(user|assistant|human)\s*:", text, re.IGNORECASE | re.MULTILINE):
        return False
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 3 and len(set(lines)) < len(lines) / 2:
        return False
    words = {w.lower() for w in _WORD.findall(text)} - _STOP
    source_words = {w.lower() for w in _WORD.findall(source)} - _STOP
    shared = words & source_words
    return len(shared) >= min(2, len(source_words))
