"""The stored events as the views read them: parsed once, kept in memory and topped up with
the rows stored since, with the persons and times derived from them computed once per change."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from posthog_web.inbox.analytics import TimedEvent, event_time
from posthog_web.inbox.persons import MergeHistory
from posthog_web.inbox.store import EventStore, StoredEvent

T = TypeVar("T")
_MEMO_SIZE = 64
_gc_lock = threading.Lock()
_gc_pauses = [0, False]  # [computations under way, whether the collector was on before]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off while a view computes its figures.

    A computation over 100,000 events makes hundreds of thousands of short-lived tuples (freed
    by reference counting); the collector would walk them again and again, up to half the time.
    Overlapping computations share one pause; a collector the app turned off stays off.
    """
    with _gc_lock:
        if _gc_pauses[0] == 0:
            _gc_pauses[1] = gc.isenabled()
            gc.disable()
        _gc_pauses[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses[0] -= 1
            if _gc_pauses[0] == 0 and _gc_pauses[1]:
                gc.enable()


@dataclass(frozen=True)
class Snapshot:
    """The stored events at one moment and what the views derive from them."""

    rows: list[StoredEvent]
    persons: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    #: distinct id -> the key of its person (the person's first distinct id).
    person_of: dict[str, str]
    #: The events with their times and distinct ids (rows without a usable time left out).
    timed: list[TimedEvent]
    #: Per-row values views derive once (shared by the snapshots of one generation).
    per_row: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    _memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    _memo_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, computed once per snapshot and ``key`` (views cache their figures)."""
        with self._memo_lock:
            if key not in self._memo:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()  # sliding ranges add a key per step while idle
                with _collector_paused():
                    self._memo[key] = compute()
            value: T = self._memo[key]
            return value

    def person_key(self, distinct_id: str) -> str:
        """The person a distinct id belongs to; a personless id stands for itself."""
        return self.person_of.get(distinct_id, distinct_id)

    def row(self, row_id: int) -> StoredEvent:
        """The stored event with this row id; LookupError when there is none."""
        low, high = 0, len(self.rows)
        while low < high:
            middle = (low + high) // 2
            if self.rows[middle].id < row_id:
                low = middle + 1
            else:
                high = middle
        if low < len(self.rows) and self.rows[low].id == row_id:
            return self.rows[low]
        raise LookupError(f"no stored event with id {row_id}")


class InboxData:
    """A cache of the store's rows for the views, topped up incrementally; safe across threads.

    Args:
        store: the event store it reads.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._generation = -1
        self._reset()

    def _reset(self) -> None:
        self._rows: list[StoredEvent] = []
        self._timed: list[TimedEvent] = []
        self._per_row: dict[Hashable, Any] = {}
        self._history = MergeHistory()
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The events stored now, with persons and times (recomputed only after a change)."""
        with self._lock, _collector_paused():
            if self._store.generation != self._generation:
                self._generation = self._store.generation
                self._reset()
            new = self._store.rows_after(self._rows[-1].id if self._rows else 0)
            if new:
                self._rows = [*self._rows, *new]
                self._timed = [*self._timed, *_timed(new)]
                self._history.add(row.data for row in new)
                self._snapshot = None
            if self._snapshot is None:
                self._snapshot = self._derive()
            return self._snapshot

    def warm(self) -> None:
        """Read and parse every stored row now (an inbox on a big database starts with it)."""
        try:
            self.snapshot()
        except RuntimeError:
            pass  # the inbox stopped first: its store is closed

    def _derive(self) -> Snapshot:
        person_of = self._history.person_of()
        persons, refusals = self._history.persons(), self._history.refusals()
        return Snapshot(self._rows, persons, refusals, person_of, self._timed, self._per_row)


def _timed(rows: list[StoredEvent]) -> list[TimedEvent]:
    found = []
    for row in rows:
        when = event_time(row.data, row.received_at)
        if when is not None:
            timed = TimedEvent(when, row.data["distinct_id"], row.data)
            _ = timed.facts  # extracted once, as the rows arrive, not in the first request
            found.append(timed)
    return found
