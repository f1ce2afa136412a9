"""The inbox's SQLite event store: accepted events in arrival order, with a bounded wait."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    distinct_id TEXT NOT NULL,
    uuid TEXT,
    timestamp TEXT,
    sent_at TEXT,
    received_at TEXT NOT NULL,
    api_key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_event ON events (event);
CREATE INDEX IF NOT EXISTS events_distinct_id ON events (distinct_id);
"""
# Migrations by PRAGMA user_version: each runs once on an existing database, in order.
_MIGRATIONS = (
    # 1: the page's views look events up by uuid (duplicates) and by session.
    "CREATE INDEX IF NOT EXISTS events_uuid ON events (uuid);"
    "CREATE INDEX IF NOT EXISTS events_session_id"
    " ON events (json_extract(data, '$.properties.\"$session_id\"'));",
)
#: The schema version a migrated database has.
SCHEMA_VERSION = len(_MIGRATIONS)


@dataclass(frozen=True)
class StoredEvent:
    """One stored event with its row id and the server's receive time (ISO 8601, UTC)."""

    id: int
    received_at: str
    data: dict[str, Any]


class EventStore:
    """Accepted events in SQLite; one connection shared by all threads under a lock.

    Args:
        db_path: a file path (opened in WAL mode, kept across restarts) or None for memory.
    """

    def __init__(self, db_path: str | Path | None = None) -> None:
        target = ":memory:" if db_path is None else str(db_path)
        self._conn = sqlite3.connect(target, check_same_thread=False)
        self._changed = threading.Condition(threading.Lock())
        self._closed = False
        #: Bumped by clear(), so caches of the stored rows know to start again.
        self.generation = 0
        with self._changed:
            if db_path is not None:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            self._conn.executescript(script + f"PRAGMA user_version = {number};")

    def add(self, events: list[dict[str, Any]]) -> None:
        """Store ``events`` (already validated) and wake every waiter."""
        received_at = dt.datetime.now(dt.timezone.utc).isoformat()
        rows = [
            (
                e["event"],
                e["distinct_id"],
                e.get("uuid"),
                e.get("timestamp"),
                e.get("sent_at"),
                received_at,
                e["api_key"],
                json.dumps(e, ensure_ascii=False),
            )
            for e in events
        ]
        with self._changed:
            self._check_open()
            with self._conn:
                self._conn.executemany(
                    "INSERT INTO events (event, distinct_id, uuid, timestamp, sent_at,"
                    " received_at, api_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            self._changed.notify_all()

    def rows(
        self,
        event: str | None = None,
        distinct_id: str | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Matching events in arrival order; with ``limit``, only the latest ``limit`` of them."""
        with self._changed:
            self._check_open()
            return self._rows(event, distinct_id, limit)

    def events(
        self,
        event: str | None = None,
        distinct_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Like rows(), but only the event objects."""
        return [row.data for row in self.rows(event, distinct_id, limit)]

    def wait_for(
        self, count: int, timeout: float, event: str | None = None
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` (matching) events are stored; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._check_open()
            while True:
                found = [row.data for row in self._rows(event, None, None)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    break
                self._changed.wait(remaining)
        if len(found) >= count:
            return found
        what = f"{event!r} events" if event is not None else "events"
        seen = [f"{e['event']}({e['distinct_id']})" for e in self.events()]
        raise AssertionError(
            f"waited {timeout} s for {count} {what}, got {len(found)}; "
            f"all events received: {seen or 'none'}"
        )

    def rows_after(self, row_id: int) -> list[StoredEvent]:
        """Every event stored after row ``row_id``, in arrival order (the page's cache reads it)."""
        with self._changed:
            self._check_open()
            found = self._conn.execute(
                "SELECT id, received_at, data FROM events WHERE id > ? ORDER BY id", (row_id,)
            ).fetchall()
        return [StoredEvent(i, received, json.loads(data)) for i, received, data in found]

    def last_id(self) -> int:
        """The newest row id, 0 when the store is empty."""
        with self._changed:
            self._check_open()
            (n,) = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
            return int(n)

    def count(self) -> int:
        """How many events are stored."""
        with self._changed:
            self._check_open()
            (n,) = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()
            return int(n)

    def clear(self) -> None:
        """Delete every event."""
        with self._changed:
            self._check_open()
            with self._conn:
                self._conn.execute("DELETE FROM events")
            self.generation += 1

    def close(self) -> None:
        """Close the database; idempotent."""
        with self._changed:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the inbox is stopped: its event store is closed")

    def _rows(
        self, event: str | None, distinct_id: str | None, limit: int | None
    ) -> list[StoredEvent]:
        where, params = [], []
        if event is not None:
            where.append("event = ?")
            params.append(event)
        if distinct_id is not None:
            where.append("distinct_id = ?")
            params.append(distinct_id)
        sql = "SELECT id, received_at, data FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        found = self._conn.execute(sql, params).fetchall()
        return [StoredEvent(i, received, json.loads(data)) for i, received, data in reversed(found)]
