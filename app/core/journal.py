"""The journal as the agent's memory sees it: indexing, asking, reviews and follow-ups.

Entries live in a JournalRepository (SQLite) and are the source of truth; archival memory
holds a copy of each entry the user has not kept out of memory, chunked, with source
"journal" and created_at = the entry's day (noon UTC, so date filters and the shown date agree
in every time zone within 12 hours of UTC). The repository records which passages belong to
which entry, so an edit replaces them and "keep out of memory" or a deletion removes them, also
after a crash (`JournalIndexer.catch_up`). Nothing from a kept-out entry is ever embedded or
put in a prompt.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal, Protocol

from app.core.dates import DateRange, month_of, parse_date_range, week_of
from app.core.errors import EngramError
from app.core.messages import ChatMessage, Passage
from app.core.protocols import (
    ArchivalFilter,
    ArchivalStore,
    ChatBackend,
    Completion,
    SamplingParams,
)

SOURCE = "journal"
CHUNK_CHARS = 800  # with the heading, within MiniLM's 256 tokens
ReviewKind = Literal["weekly", "monthly"]


class JournalError(EngramError):
    """A journal operation could not be done (nothing to review, an unusable model reply)."""


@dataclass(frozen=True)
class JournalEntry:
    id: int
    day: date
    position: int  # 0 for the day's first entry
    text: str  # Markdown, exactly as written
    created_at: datetime
    updated_at: datetime
    mood: int | None = None  # 1-5 check-in
    mood_tags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    keep_out: bool = False  # "keep this out of memory": never embedded, never in a prompt
    revision: int = 1  # bumped by every change memory would see

    @property
    def is_blank(self) -> bool:
        return not self.text.strip()


@dataclass(frozen=True)
class IndexState:
    """Which archival passages hold an entry for one agent, and those still to delete."""

    revision: int
    passage_ids: tuple[str, ...]
    stale_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewPeriod:
    kind: ReviewKind
    start: date
    end: date

    @classmethod
    def containing(cls, kind: ReviewKind, day: date) -> ReviewPeriod:
        return cls(kind, *(week_of(day) if kind == "weekly" else month_of(day)))

    @property
    def label(self) -> str:
        if self.kind == "monthly":
            return f"{self.start:%B %Y}"
        return f"the week of {self.start.day} {self.start:%B %Y}"


@dataclass(frozen=True)
class Review:
    id: int
    agent_id: str
    period: ReviewPeriod
    text: str
    entry_ids: tuple[int, ...]
    passage_ids: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class JournalSettings:
    follow_up_questions: bool = False  # off unless the user turns it on
    review_words: int = 180


class JournalRepository(Protocol):
    """What the journal core needs from its store (JournalStore implements it on SQLite)."""

    def get(self, entry_id: int) -> JournalEntry | None: ...
    def entries_between(
        self, start: date, end: date, *, include_private: bool = False
    ) -> list[JournalEntry]: ...
    def written_days(self, *, include_private: bool = True) -> list[date]: ...
    def set_keep_out(self, entry_id: int, keep_out: bool) -> JournalEntry: ...
    def delete(self, entry_id: int) -> None: ...
    def index_state(self, agent_id: str, entry_id: int) -> IndexState | None: ...
    def record_index(
        self, agent_id: str, entry_id: int, revision: int, passage_ids: Sequence[str]
    ) -> bool:
        """Make these the entry's passages, moving the old ones to stale, in one transaction;
        False (and nothing written) when the entry is gone or kept out."""
        ...

    def clear_stale(self, agent_id: str, entry_id: int, passage_ids: Sequence[str]) -> None: ...
    def forget_index(self, agent_id: str, entry_id: int) -> None: ...
    def pending_index(self, agent_id: str) -> list[int]: ...
    def save_review(self, review: Review) -> Review: ...
    def reviews(self, agent_id: str) -> list[Review]: ...
    def delete_review(self, review_id: int) -> None: ...
    def unsafe_reviews(self, agent_id: str) -> list[Review]:
        """Reviews that drew on an entry since deleted or kept out of memory."""
        ...


# ---- time ---------------------------------------------------------------------------------
def entry_time(day: date) -> datetime:
    """The created_at of a day's passages: noon UTC is the same date in every time zone."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def day_filter(
    start: date | None,
    end: date | None,
    sources: tuple[str, ...] = (SOURCE,),
    tz: tzinfo = UTC,
) -> ArchivalFilter:
    """Whole days from start to end in zone `tz`. Journal passages (noon UTC) fall inside
    their day's bounds in any zone within 12 hours of UTC; passages stamped with local time
    (the agent's own) need the user's zone."""
    return ArchivalFilter(
        sources=sources,
        start=None if start is None else datetime.combine(start, time.min, tzinfo=tz),
        end=None if end is None else datetime.combine(end, time.max, tzinfo=tz),
    )


# ---- passages -----------------------------------------------------------------------------
def chunk_text(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Paragraph-packed chunks of at most `limit` characters (long paragraphs split on
    sentences, then on words); blank text gives no chunks."""
    pieces: list[str] = []
    for para in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if len(para) <= limit:
            pieces.extend([para] if para else [])
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", para):
            while len(sentence) > limit:
                cut = sentence.rfind(" ", 0, limit)
                cut = cut if cut > 0 else limit
                pieces.append(sentence[:cut])
                sentence = sentence[cut:].lstrip()
            pieces.extend([sentence] if sentence else [])
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 2 + len(piece) <= limit:
            chunks[-1] += "\n\n" + piece
        else:
            chunks.append(piece)
    return chunks


def entry_heading(entry: JournalEntry) -> str:
    """How a passage says where it comes from: date, mood and tags in words."""
    parts = [f"Journal, {entry.day:%A} {entry.day.day} {entry.day:%B %Y}"]
    if entry.mood is not None:
        feel = f" ({', '.join(entry.mood_tags)})" if entry.mood_tags else ""
        parts.append(f"mood {entry.mood}/5{feel}")
    if entry.tags:
        parts.append("tags: " + ", ".join(entry.tags))
    return "; ".join(parts)


class JournalIndexer:
    """Keeps one agent's archival memory in step with the journal. Its operations run one at
    a time; each first commits the journal's truth, then changes archival memory."""

    def __init__(self, repo: JournalRepository, archival: ArchivalStore, agent_id: str) -> None:
        self.repo, self.archival, self.agent_id = repo, archival, agent_id
        self._lock = threading.Lock()

    def reindex(self, entry_id: int) -> int:
        """Replace the entry's passages with its current text (none if blank, kept out or
        deleted). Returns how many passages now hold it."""
        with self._lock:
            entry = self.repo.get(entry_id)
            if entry is None or entry.keep_out:
                self._purge(entry_id)
                return 0
            chunks = chunk_text(entry.text)
            heading = entry_heading(entry)
            ids = self._insert(entry, [f"{heading}\n{c}" for c in chunks]) if chunks else []
            if not self.repo.record_index(self.agent_id, entry_id, entry.revision, ids):
                self.archival.delete(self.agent_id, ids)  # kept out or deleted meanwhile
                self._purge(entry_id)
                return 0
            self._drop_stale(entry_id)
            return len(ids)

    def set_keep_out(self, entry_id: int, keep_out: bool) -> JournalEntry:
        """Flip "keep out of memory"; on removes the entry's passages and any review that
        used it, off indexes it again."""
        entry = self.repo.set_keep_out(entry_id, keep_out)
        if keep_out:
            with self._lock:
                self._purge(entry_id)
                self._purge_unsafe_reviews()
        else:
            self.reindex(entry_id)
        return entry

    def delete(self, entry_id: int) -> None:
        """Delete the entry, then its passages and the reviews that used it."""
        self.repo.delete(entry_id)
        with self._lock:
            self._purge(entry_id)
            self._purge_unsafe_reviews()

    def catch_up(self) -> int:
        """Finish what a crash or a skipped reindex left: new, edited, kept-out and deleted
        entries. Returns how many entries were visited."""
        pending = self.repo.pending_index(self.agent_id)
        for entry_id in pending:
            self.reindex(entry_id)
        with self._lock:
            self._purge_unsafe_reviews()
        return len(pending)

    def _insert(self, entry: JournalEntry, texts: list[str]) -> list[str]:
        day, number = entry.day.isoformat(), f" #{entry.position + 1}" * (entry.position > 0)
        meta = {"entry_id": entry.id, "day": day, "mood": entry.mood, "revision": entry.revision}
        meta |= {"mood_tags": list(entry.mood_tags), "tags": list(entry.tags)}
        return self.archival.insert(
            self.agent_id,
            texts,
            source=SOURCE,
            tags=entry.tags,
            location=f"journal {day}{number}",
            metadata=meta,
            created_at=entry_time(entry.day),
        )

    def _purge(self, entry_id: int) -> None:
        state = self.repo.index_state(self.agent_id, entry_id)
        if state is not None:
            self.archival.delete(self.agent_id, [*state.passage_ids, *state.stale_ids])
            self.repo.forget_index(self.agent_id, entry_id)

    def _drop_stale(self, entry_id: int) -> None:
        state = self.repo.index_state(self.agent_id, entry_id)
        if state is not None and state.stale_ids:
            self.archival.delete(self.agent_id, state.stale_ids)
            self.repo.clear_stale(self.agent_id, entry_id, state.stale_ids)

    def _purge_unsafe_reviews(self) -> None:
        purge_unsafe_reviews(self.repo, self.archival, self.agent_id)


def purge_unsafe_reviews(
    repo: JournalRepository, archival: ArchivalStore, agent_id: str
) -> list[int]:
    """Remove reviews (passages first) that drew on an entry since deleted or kept out;
    returns their ids."""
    unsafe = repo.unsafe_reviews(agent_id)
    for review in unsafe:
        archival.delete(agent_id, review.passage_ids)
        repo.delete_review(review.id)
    return [r.id for r in unsafe]


# ---- asking -------------------------------------------------------------------------------
_FILLER = frozenset(
    (
        "a an the and or but of to in on at for with about from what whats what's when did do "
        "does i i'm me my mine we our is was were be been have had has write wrote written "
        "writing say said tell show find remind any anything something entries entry journal "
        "diary note notes how who where which that this these those there it its it's ever "
        "much many some can could would should you your please"
    ).split()
)


@dataclass(frozen=True)
class JournalQuery:
    """A question split into what to look for and when."""

    question: str
    text: str  # the question without its date phrase
    keywords: str  # `text` without question words: what a search should match
    dates: DateRange | None
    filter: ArchivalFilter

    @property
    def search_text(self) -> str:
        return self.keywords or self.text


def journal_filter_for(
    query: str,
    today: date,
    *,
    birthday: date | None = None,
    sources: tuple[str, ...] = (SOURCE,),
    tz: tzinfo = UTC,
) -> JournalQuery:
    """Turn the dates a question names into an archival filter plus the words left to search.
    `sources=()` keeps only the dates (for a search over all of archival memory); `tz` is
    the user's zone, in which the days are counted."""
    dates = parse_date_range(query, today, birthday=birthday)
    text = query if dates is None else dates.remove_from(query)
    words = [w for w in re.findall(r"[\w'’-]+", text.lower()) if w not in _FILLER]
    filt = ArchivalFilter(sources)
    if dates is not None:
        filt = day_filter(dates.start, dates.end, sources, tz)
    return JournalQuery(query, text, " ".join(words), dates, filt)


@dataclass(frozen=True)
class JournalHit:
    """One passage found in the journal, with what a citation needs."""

    day: date
    text: str
    entry_id: int | None
    passage_id: str
    score: float = 0.0
    is_review: bool = False

    @classmethod
    def from_passage(cls, p: Passage) -> JournalHit:
        day = p.metadata.get("day") or p.metadata.get("period_end")
        entry = p.metadata.get("entry_id")
        return cls(
            date.fromisoformat(day) if isinstance(day, str) else p.created_at.date(),
            p.text,
            entry if isinstance(entry, int) else None,
            p.id,
            p.score,
            "review" in p.tags,
        )

    @property
    def citation(self) -> str:
        return f"journal {self.day.isoformat()}"


@dataclass(frozen=True)
class JournalAnswer:
    query: JournalQuery
    hits: tuple[JournalHit, ...]
    page: int
    total: int


def ask_journal(
    question: str,
    archival: ArchivalStore,
    agent_id: str,
    today: date,
    *,
    birthday: date | None = None,
    page: int = 1,
    page_size: int = 5,
    repo: JournalRepository | None = None,
) -> JournalAnswer:
    """Search the journal's passages for a question, restricted to the dates it names.
    A question that names only dates ("what did I write last week?") lists that period's
    entries from `repo` when one is given (never kept-out ones), else searches with no words
    (which LanceArchivalStore answers with the period's newest passages)."""
    q = journal_filter_for(question, today, birthday=birthday)
    if not q.keywords and q.dates is not None and repo is not None:
        entries = [e for e in repo.entries_between(q.dates.start, q.dates.end) if not e.is_blank]
        entries = [e for e in entries if not e.keep_out]
        shown = entries[(page - 1) * page_size : page * page_size]
        hits = tuple(JournalHit(e.day, e.text, e.id, "") for e in shown)
        return JournalAnswer(q, hits, page, len(entries))
    words = q.keywords if q.dates else q.search_text  # "" lists the period (LanceArchivalStore)
    found = archival.search(agent_id, words, page=page, page_size=page_size, filters=q.filter)
    hits = tuple(JournalHit.from_passage(p) for p in found.items)
    return JournalAnswer(q, hits, page, found.total)


# ---- reviews and follow-up questions --------------------------------------------------------
REVIEW_INSTRUCTIONS = (
    "You are the user's private journaling companion. Read their journal entries from {label} "
    "and write a short {kind} review of it: the main themes, the people who appear, and how "
    'their mood moved{moods}. Speak to the user as "you". Plain text, no headings or lists, '
    "at most {words} words. Use only what the entries say."
)
FOLLOW_UP_INSTRUCTIONS = (
    "You are the user's private journaling companion. Ask one short, warm follow-up question "
    "about the journal entry they just wrote, to help them reflect. Reply with the question "
    "only, in one sentence ending with a question mark."
)


def _generate(
    backend: ChatBackend,
    messages: list[ChatMessage],
    max_tokens: int,
    stop: Callable[[], bool] | None = None,
) -> str:
    """Free text from the model; `stop()` is asked between tokens (the user's Stop button,
    a closing window) and ends the generation with a JournalError."""
    final: Completion | None = None
    stream = backend.stream(messages, schema=None, params=SamplingParams(max_tokens))
    try:
        for item in stream:
            if stop is not None and stop():
                raise JournalError("Stopped before the model finished writing.")
            if isinstance(item, Completion):
                final = item
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if final is None or final.finish_reason == "cancelled":
        raise JournalError("The model stopped before it finished writing.")
    text = final.text.strip()
    if final.finish_reason == "length":  # keep whole sentences only
        end = max(text.rfind(". "), text.rfind("! "), text.rfind("? "))
        text = text[: end + 1] if end > 0 else text
    return text


def _fit(
    backend: ChatBackend, system: str, parts: list[str], reply_tokens: int
) -> list[ChatMessage]:
    """System + user message, each part cut shorter until the prompt fits the window."""
    limit = max(len(p) for p in parts) if parts else 0
    while True:
        shown = [p if len(p) <= limit else p[:limit] + " […]" for p in parts]
        messages = [ChatMessage("system", system), ChatMessage("user", "\n\n".join(shown))]
        if backend.count_tokens(messages) + reply_tokens <= backend.context_window or limit < 80:
            return messages
        limit = limit * 2 // 3


def review_prompt(
    period: ReviewPeriod, entries: Sequence[JournalEntry], backend: ChatBackend, words: int
) -> list[ChatMessage]:
    moods = [e for e in entries if e.mood is not None]
    system = REVIEW_INSTRUCTIONS.format(
        label=period.label,
        kind=period.kind,
        moods=" (their 1-5 mood check-ins are given)" if moods else "",
        words=words,
    )
    parts = [f"[{entry_heading(e)}]\n{e.text.strip()}" for e in entries]
    return _fit(backend, system, parts, words * 2)


def write_review(
    period: ReviewPeriod,
    backend: ChatBackend,
    *,
    repo: JournalRepository,
    archival: ArchivalStore,
    agent_id: str,
    now: datetime,
    settings: JournalSettings | None = None,
    stop: Callable[[], bool] | None = None,
) -> Review:
    """Ask the model for a review of the period's entries (never kept-out ones), store it as
    a journal passage tagged review/<kind> and in the reviews table, replacing an older one."""
    words = (settings or JournalSettings()).review_words
    entries = [
        e for e in repo.entries_between(period.start, period.end) if not (e.keep_out or e.is_blank)
    ]
    if not entries:
        raise JournalError(f"There are no journal entries from {period.label} to review.")
    text = _generate(backend, review_prompt(period, entries, backend, words), words * 2, stop)
    if not text:
        raise JournalError("The model wrote an empty review.", hint="Try again.")
    entry_ids = tuple(e.id for e in entries)
    ids = archival.insert(
        agent_id,
        [f"Journal review of {period.label}:\n{text}"],
        source=SOURCE,
        tags=("review", period.kind),
        location=f"{period.kind} review {period.start.isoformat()}",
        metadata={
            "review": period.kind,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "entry_ids": list(entry_ids),
        },
        created_at=entry_time(period.end),
    )
    old = [r for r in repo.reviews(agent_id) if r.period == period]
    review = repo.save_review(Review(0, agent_id, period, text, entry_ids, tuple(ids), now))
    for r in old:
        archival.delete(agent_id, r.passage_ids)
    if review.id in purge_unsafe_reviews(repo, archival, agent_id):
        raise JournalError(
            f"An entry from {period.label} was kept out of memory while the review was being "
            "written, so the review was discarded.",
            hint="Ask for the review again.",
        )
    return review


def due_reviews(
    today: date, *, repo: JournalRepository, agent_id: str, since: date | None = None
) -> list[ReviewPeriod]:
    """Weeks and months that have ended, have entries memory may see, and have no review yet;
    newest first."""
    done = {r.period for r in repo.reviews(agent_id)}
    periods: set[ReviewPeriod] = set()
    for day in repo.written_days(include_private=False):
        if since is None or day >= since:
            periods.add(ReviewPeriod.containing("weekly", day))
            periods.add(ReviewPeriod.containing("monthly", day))
    due = [p for p in periods if p.end < today and p not in done]
    return sorted(due, key=lambda p: (p.end, p.kind), reverse=True)


def catch_up_reviews(
    due: Sequence[ReviewPeriod], *, weeks: int = 2, months: int = 1
) -> list[ReviewPeriod]:
    """The newest `weeks` weekly and `months` monthly periods of `due` (newest first): what a
    launch writes on its own, so a first launch on a year of entries does not run the model
    for an hour (older periods can still be reviewed on request)."""
    weekly = [p for p in due if p.kind == "weekly"][:weeks]
    monthly = [p for p in due if p.kind == "monthly"][:months]
    return sorted([*weekly, *monthly], key=lambda p: (p.end, p.kind), reverse=True)


def follow_up_question(
    entry: JournalEntry,
    backend: ChatBackend,
    archival: ArchivalStore,
    *,
    agent_id: str,
    settings: JournalSettings | None = None,
    stop: Callable[[], bool] | None = None,
) -> str | None:
    """One question about the entry just written, or None: when the setting is off, the
    entry is kept out of memory or blank, or the model gives no usable question."""
    if not (settings or JournalSettings()).follow_up_questions or entry.keep_out or entry.is_blank:
        return None
    earlier = archival.search(
        agent_id,
        " ".join(entry.text.split()[:40]),
        page_size=2,
        filters=day_filter(None, entry.day - timedelta(days=1)),
    )
    parts = [f"Today's entry [{entry_heading(entry)}]:\n{entry.text.strip()}"]
    parts += [f"An earlier entry that may be related:\n{p.text}" for p in earlier.items]
    reply = _generate(backend, _fit(backend, FOLLOW_UP_INSTRUCTIONS, parts, 80), 80, stop)
    line = reply.strip().splitlines()[0].strip(" \"'“”") if reply.strip() else ""
    if "?" not in line:
        return None
    question = line[: line.index("?") + 1].strip()
    return question if 5 <= len(question) <= 300 else None
