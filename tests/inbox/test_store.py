"""Storage: persistence across restarts, bounded waits, clearing."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from posthog_web.inbox.store import EventStore
from tests.inbox.helpers import TOKEN, UUID7, batch, make_event


def _send(server: InboxServer, *names: str) -> None:
    events = [make_event(n, uuid=UUID7) for n in names]
    response = requests.post(server.url + "/batch/", json=batch(*events), timeout=5)
    assert response.status_code == 200


def test_events_survive_a_restart_with_a_file_database(tmp_path: Path) -> None:
    db = tmp_path / "inbox.db"
    with InboxServer(db_path=db) as first:
        _send(first, "before")

    with InboxServer(db_path=str(db)) as second:
        assert [e["event"] for e in second.events()] == ["before"]
        _send(second, "after")
        assert [e["event"] for e in second.events()] == ["before", "after"]

    with sqlite3.connect(db) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
        rows = conn.execute("SELECT event, distinct_id, uuid, api_key FROM events").fetchall()
    conn.close()
    assert mode == "wal"
    assert rows == [("before", "user-1", UUID7, TOKEN), ("after", "user-1", UUID7, TOKEN)]


def test_memory_database_starts_empty_each_time() -> None:
    with InboxServer() as first:
        _send(first, "x")
    with InboxServer() as second:
        assert second.events() == []


def test_wait_for_events_returns_as_soon_as_enough_arrive(inbox: InboxServer) -> None:
    timer = threading.Timer(0.1, _send, args=(inbox, "late", "page"))
    timer.start()
    try:
        events = inbox.wait_for_events(1, timeout=5, event="page")
    finally:
        timer.join()

    assert [e["event"] for e in events] == ["page"]


def test_wait_for_events_times_out_with_a_clear_message(inbox: InboxServer) -> None:
    _send(inbox, "got_this")

    started = time.monotonic()
    with pytest.raises(AssertionError) as info:
        inbox.wait_for_events(2, timeout=0.2)

    assert 0.2 <= time.monotonic() - started < 2
    message = str(info.value)
    assert "2 events" in message
    assert "got 1" in message
    assert "got_this(user-1)" in message
    with pytest.raises(AssertionError, match="'missing' events"):
        inbox.wait_for_events(1, timeout=0.05, event="missing")


def test_wait_on_an_empty_store_says_none() -> None:
    store = EventStore()
    try:
        with pytest.raises(AssertionError, match="none"):
            store.wait_for(1, 0.01)
    finally:
        store.close()
        store.close()


def test_clear_forgets_events_and_requests(inbox: InboxServer) -> None:
    _send(inbox, "a")

    inbox.clear()

    assert inbox.events() == []
    assert inbox.requests == []


def test_delete_api_events_clears(inbox: InboxServer) -> None:
    _send(inbox, "a")

    response = requests.delete(inbox.url + "/api/events", timeout=5)

    assert response.json() == {"ok": True}
    assert inbox.events() == []


def test_store_rows_keep_arrival_order_and_limit_takes_the_latest() -> None:
    store = EventStore()
    try:
        store.add([{**make_event(str(i)), "api_key": TOKEN} for i in range(5)])
        rows = store.rows(limit=2)
        assert [r.data["event"] for r in rows] == ["3", "4"]
        assert rows[0].id < rows[1].id
        assert rows[0].received_at.endswith("+00:00")
        assert store.count() == 5
    finally:
        store.close()


def test_server_lifecycle_rules() -> None:
    server = InboxServer(port=0)
    assert server.port == 0
    with server:
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        with server:  # entering a started server does not start it again
            pass
    with pytest.raises(RuntimeError):
        server.start()


def test_ipv6_loopback_url() -> None:
    try:
        server = InboxServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert server.url == f"http://[::1]:{server.port}"
        assert requests.get(server.url + "/api/health", timeout=5).ok
    finally:
        server.stop()


def test_a_stopped_inbox_says_so() -> None:
    server = InboxServer().start()
    server.stop()

    with pytest.raises(RuntimeError, match="stopped"):
        server.events()


def test_a_failed_start_stops_the_server() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = InboxServer(port=taken.getsockname()[1])
        with pytest.raises(OSError):
            server.start()
    with pytest.raises(RuntimeError, match="only once"):
        server.start()
    server.stop()
