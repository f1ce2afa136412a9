"""The stored events as the views read them: parsed once, kept in memory and topped up with
the rows stored since, with the persons and times derived from them computed once per change."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from posthog_web.inbox.analytics import TimedEvent, event_time
from posthog_web.inbox.persons import merge_history
from posthog_web.inbox.store import EventStore, StoredEvent


@dataclass(frozen=True)
class Snapshot:
    """The stored events at one moment and what the views derive from them."""

    rows: list[StoredEvent]
    persons: list[dict[str, Any]]
    refusals: list[dict[str, Any]]
    #: distinct id -> the key of its person (the person's first distinct id).
    person_of: dict[str, str]
    #: row id -> its event with time and person (rows without a usable time are left out).
    timed: list[TimedEvent]

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
    """A cache of the store's rows for the views; safe across threads.

    Args:
        store: the event store it reads.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rows: list[StoredEvent] = []
        self._generation = -1
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The events stored now, with persons and times (recomputed only after a change)."""
        with self._lock:
            generation = self._store.generation
            if generation != self._generation:
                self._rows, self._generation, self._snapshot = [], generation, None
            last = self._rows[-1].id if self._rows else 0
            new = self._store.rows_after(last)
            if new:
                self._rows = [*self._rows, *new]
                self._snapshot = None
            if self._snapshot is None:
                self._snapshot = _derive(self._rows)
            return self._snapshot


def _derive(rows: list[StoredEvent]) -> Snapshot:
    persons, refusals = merge_history(row.data for row in rows)
    person_of = {i: p["distinct_ids"][0] for p in persons for i in p["distinct_ids"]}
    timed = []
    for row in rows:
        when = event_time(row.data, row.received_at)
        if when is not None:
            key = person_of.get(row.data["distinct_id"], row.data["distinct_id"])
            timed.append(TimedEvent(when, key, row.data))
    return Snapshot(rows, persons, refusals, person_of, timed)
