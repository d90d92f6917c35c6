"""The journal's storage and memory work, off the UI thread: `JournalWorker`.

It lives in a QThread of its own ("engram-journal"), not the agent's: an autosave must reach
the disk within a second even while the model is busy writing a reply for minutes. The window
asks through the queued signals of `JournalRequests` and hears back through the worker's
signals; Qt delivers queued calls in order, so a save asked before `shutdown` is always written
before the thread ends.

Saving and indexing are separate on purpose. A save (every ≤ 1 s while typing) only writes
SQLite (synchronous=FULL, so it survives a kill); the entry's archival passages (embeddings)
are rebuilt once it has been quiet for INDEX_AFTER_MS, when the user leaves it, on a mood,
tag or keep-out change, and at shutdown. `JournalIndexer.catch_up` at start finishes whatever
a crash left, so memory never stays behind the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from app.core.errors import EngramError
from app.core.journal import JournalEntry, JournalIndexer, Review, day_filter
from app.core.messages import AgentInfo
from app.memory.journal_store import clean_tags
from app.runtime import Runtime

if TYPE_CHECKING:
    from app.memory.journal_store import (
        JournalMatch,
        JournalStats,
        JournalStore,
        MoodPoint,
        OnThisDay,
    )

log = logging.getLogger("engram.ui")

INDEX_AFTER_MS = 3000


@dataclass(frozen=True)
class MonthView:
    """What the calendar shows: the days written (mood per day where given) and the streak."""

    days: dict[date, int | None]  # written day -> its average mood, rounded (None: no mood)
    stats: JournalStats


@dataclass(frozen=True)
class SearchResults:
    """One search's answers: full-text matches and, separately, passages found by meaning."""

    query: str
    words: tuple[JournalMatch, ...]
    meaning: tuple[tuple[date, int | None, str], ...]  # day, entry id, passage text


@dataclass(frozen=True)
class LookBack:
    """The side panels: on this day, the mood series, the agent's reviews."""

    on_this_day: tuple[OnThisDay, ...]
    weekly: tuple[MoodPoint, ...]
    monthly: tuple[MoodPoint, ...]
    reviews: tuple[Review, ...]


class JournalWorker(QObject):
    """Owns the JournalStore (opened in its own thread) and the indexer of the followed agent."""

    month = Signal(object)  # MonthView
    day = Signal(object, object)  # date, list[JournalEntry]
    saved = Signal(int, object)  # draft token, JournalEntry
    created = Signal(object)  # JournalEntry made by "New entry"
    entry_changed = Signal(object)  # JournalEntry changed by something other than the editor
    results = Signal(object)  # SearchResults
    look_back = Signal(object)  # LookBack
    indexed = Signal(int)  # entries whose passages were rebuilt
    imported = Signal(int)  # entries added from files: reload what is shown
    message = Signal(str)  # a finished export or import, in words
    reflect_ready = Signal(int)  # an entry saved and indexed, ready for a follow-up question
    error = Signal(str)

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self._runtime = runtime
        self._store: JournalStore | None = None
        self._indexer: JournalIndexer | None = None
        self._drafts: dict[int, int] = {}  # draft token -> entry id created for it
        self._dirty: set[int] = set()
        self._timer: QTimer | None = None

    # ---- helpers (worker thread) ---------------------------------------------------------
    def store(self) -> JournalStore:
        if self._store is None:
            from app.memory.journal_store import JournalStore

            self._store = JournalStore(self._runtime.root / "engram.db")
        return self._store

    def today(self) -> date:
        return self._runtime.clock.now().date()

    def _schedule_index(self, entry_id: int) -> None:
        self._dirty.add(entry_id)
        if self._timer is None:  # created here, so it lives in this thread
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.timeout.connect(self.index_now)
        self._timer.start(INDEX_AFTER_MS)

    # ---- slots ---------------------------------------------------------------------------
    @Slot(object)
    def follow(self, info: AgentInfo) -> None:
        """Index into this agent's archival memory; catch up on what it missed."""
        self.index_now()
        self._indexer = JournalIndexer(self.store(), self._runtime.archival, info.id)
        try:
            visited = self._indexer.catch_up()
        except EngramError as err:
            self.error.emit(err.user_message)
            return
        if visited:
            self.indexed.emit(visited)
        self.refresh_look_back()

    @Slot(int, int)
    def load_month(self, year: int, month: int) -> None:
        try:
            store = self.store()
            first = date(year, month, 1)
            start, end = first - timedelta(days=14), first + timedelta(days=45)
            moods = {p.start: round(p.average) for p in store.mood_series("day", start, end)}
            days = {d: moods.get(d) for d in store.written_days() if start <= d <= end}
            self.month.emit(MonthView(days, store.stats(self.today())))
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(object)
    def load_day(self, day: date) -> None:
        try:
            self.day.emit(day, self.store().entries_on(day))
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(int, int, object, str, object)
    def save(self, token: int, entry_id: int, day: date, text: str, fields: dict[str, Any]) -> None:
        """Autosave. entry_id 0 means the editor's draft `token`: its first save creates the
        entry with the draft's `fields` (mood, mood_tags, tags, keep_out), later ones update
        that same entry. A blank draft with nothing chosen creates nothing."""
        try:
            entry_id = entry_id or self._drafts.get(token, 0)
            if entry_id:
                entry = self.store().save(entry_id, text, self._runtime.clock.now())
                if fields:
                    entry = self._apply_fields(entry, fields)
            elif text.strip() or any(fields.values()):
                entry = self.store().create(day, self._runtime.clock.now(), text, **fields)
                self._drafts[token] = entry.id
            else:
                return
            self.saved.emit(token, entry)
            self._schedule_index(entry.id)
        except EngramError as err:
            self.error.emit(err.user_message)

    def _apply_fields(self, entry: JournalEntry, fields: dict[str, Any]) -> JournalEntry:
        """A draft's fields changed after it was created (before the editor knew its id)."""
        store, now = self.store(), self._runtime.clock.now()
        if bool(fields.get("keep_out")) != entry.keep_out:
            entry = self._keep_out(entry.id, bool(fields.get("keep_out")))
        mood, mood_tags = fields.get("mood"), clean_tags(fields.get("mood_tags", ()))
        if (mood, mood_tags) != (entry.mood, entry.mood_tags):
            entry = store.set_mood(entry.id, mood, mood_tags, now=now)
        if clean_tags(fields.get("tags", ())) != entry.tags:
            entry = store.set_tags(entry.id, fields.get("tags", ()), now=now)
        return entry

    @Slot(object)
    def create(self, day: date) -> None:
        """A new, empty entry after the day's others (the "New entry" button)."""
        try:
            store = self.store()
            entry = store.create(day, self._runtime.clock.now())
            self.day.emit(day, store.entries_on(day))
            self.created.emit(entry)
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(str)
    def capture(self, text: str) -> None:
        """Quick capture: add a paragraph to today's last entry (or start today's entry)."""
        if not text.strip():
            return
        try:
            store, now, today = self.store(), self._runtime.clock.now(), self.today()
            entries = store.entries_on(today)
            if entries:
                last = entries[-1]
                joined = f"{last.text.rstrip()}\n\n{text.strip()}" if last.text.strip() else text
                entry = store.save(last.id, joined, now)
            else:
                entry = store.create(today, now, text.strip())
            self.entry_changed.emit(entry)
            self._schedule_index(entry.id)
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(int, object, object)
    def set_mood(self, entry_id: int, mood: int | None, mood_tags: list[str]) -> None:
        self._edit(entry_id, lambda s, now: s.set_mood(entry_id, mood, mood_tags, now=now))

    @Slot(int, object)
    def set_tags(self, entry_id: int, tags: list[str]) -> None:
        self._edit(entry_id, lambda s, now: s.set_tags(entry_id, tags, now=now))

    def _edit(
        self, entry_id: int, change: Callable[[JournalStore, datetime], JournalEntry]
    ) -> None:
        try:
            entry = change(self.store(), self._runtime.clock.now())
            self.entry_changed.emit(entry)
            self._reindex(entry_id)
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(int, bool)
    def set_keep_out(self, entry_id: int, keep_out: bool) -> None:
        """Keep out removes the entry's passages (and reviews that used it) at once."""
        try:
            self.entry_changed.emit(self._keep_out(entry_id, keep_out))
            self.refresh_look_back()
        except EngramError as err:
            self.error.emit(err.user_message)

    def _keep_out(self, entry_id: int, keep_out: bool) -> JournalEntry:
        self._dirty.discard(entry_id)
        if self._indexer is not None:
            return self._indexer.set_keep_out(entry_id, keep_out)
        return self.store().set_keep_out(entry_id, keep_out)  # catch_up indexes it later

    @Slot(int)
    def delete(self, entry_id: int) -> None:
        try:
            self._dirty.discard(entry_id)
            entry = self.store().get(entry_id)
            if self._indexer is not None:
                self._indexer.delete(entry_id)
            else:
                self.store().delete(entry_id)
            if entry is not None:
                self.load_day(entry.day)
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(str, object, object, bool)
    def search(self, query: str, start: date | None, end: date | None, meaning: bool) -> None:
        """Full-text over every entry (the user's own, kept-out ones included) and, when
        asked, by meaning over the archival passages (which never hold kept-out entries)."""
        try:
            words = self.store().search(query, start=start, end=end, page_size=50).items
            found: list[tuple[date, int | None, str]] = []
            if meaning and query.strip() and self._indexer is not None:
                self.index_now()
                from app.core.journal import JournalHit

                page = self._runtime.archival.search(
                    self._indexer.agent_id, query, page_size=10, filters=day_filter(start, end)
                )
                for p in page.items:
                    hit = JournalHit.from_passage(p)
                    found.append((hit.day, hit.entry_id, hit.text))
            self.results.emit(SearchResults(query, tuple(words), tuple(found)))
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(str, str)
    def export(self, kind: str, target: str) -> None:
        """Markdown (one file per day into an empty folder) or one JSON file."""
        from app.journal_io import export_json, export_markdown

        try:
            if kind == "markdown":
                count = len(export_markdown(self.store(), Path(target)))
            else:
                count = export_json(self.store(), Path(target))
            self.message.emit(f"Exported {count} journal entries to {target}.")
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(str)
    def import_from(self, source: str) -> None:
        """A folder of Markdown files (Obsidian, Day One, an export) or an Engram JSON export;
        then the new entries go into memory (catch_up) and the view reloads."""
        from app.journal_io import import_json, import_markdown

        try:
            path, now = Path(source), self._runtime.clock.now()
            report = (
                import_markdown(self.store(), path, now)
                if path.is_dir()
                else import_json(self.store(), path, now)
            )
            if self._indexer is not None:
                self._indexer.catch_up()
            problems = f"; {len(report.problems)} problems" if report.problems else ""
            self.message.emit(
                f"Imported {report.imported} entries ({report.skipped} already there{problems})."
            )
            self.imported.emit(report.imported)
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot()
    def refresh_look_back(self) -> None:
        try:
            store = self.store()
            today = self.today()
            agent = self._indexer.agent_id if self._indexer is not None else ""
            reviews = tuple(store.reviews(agent)) if agent else ()
            self.look_back.emit(
                LookBack(
                    tuple(store.on_this_day(today)),
                    tuple(store.mood_series("week", today - timedelta(weeks=26), today)),
                    tuple(store.mood_series("month", today - timedelta(days=730), today)),
                    reviews,
                )
            )
        except EngramError as err:
            self.error.emit(err.user_message)

    @Slot(int)
    def reflect(self, entry_id: int) -> None:
        """The entry's saves asked before this are written (queued in order) and indexed:
        pass it on for a follow-up question (the agent worker asks the model)."""
        self.index_now()
        self.reflect_ready.emit(entry_id)

    @Slot()
    def index_now(self) -> None:
        """Rebuild the passages of entries saved since the last time (quiet, left, closing)."""
        if self._timer is not None:
            self._timer.stop()
        if self._indexer is None or not self._dirty:
            return
        dirty, self._dirty = sorted(self._dirty), set()
        try:
            for entry_id in dirty:
                self._indexer.reindex(entry_id)
            self.indexed.emit(len(dirty))
        except EngramError as err:
            self.error.emit(err.user_message)

    def _reindex(self, entry_id: int) -> None:
        self._dirty.add(entry_id)
        self.index_now()

    @Slot()
    def shutdown(self) -> None:
        """Index what is pending, close the store, end this thread's event loop."""
        self.index_now()
        if self._store is not None:
            self._store.close()
            self._store = None
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class JournalRequests(QObject):
    """What the journal view asks of the worker (queued into its thread, in order)."""

    follow = Signal(object)
    load_month = Signal(int, int)
    load_day = Signal(object)
    save = Signal(int, int, object, str, object)
    create = Signal(object)
    capture = Signal(str)
    set_mood = Signal(int, object, object)
    set_tags = Signal(int, object)
    set_keep_out = Signal(int, bool)
    delete = Signal(int)
    search = Signal(str, object, object, bool)
    export = Signal(str, str)
    import_from = Signal(str)
    refresh_look_back = Signal()
    index_now = Signal()
    reflect = Signal(int)
    shutdown = Signal()

    NAMES = (
        "follow load_month load_day save create capture set_mood set_tags set_keep_out delete "
        "search export import_from refresh_look_back index_now reflect shutdown"
    ).split()

    def connect_to(self, worker: JournalWorker) -> None:
        for name in self.NAMES:
            getattr(self, name).connect(getattr(worker, name))


__all__ = ["JournalEntry", "JournalRequests", "JournalWorker", "LookBack", "MonthView"]
