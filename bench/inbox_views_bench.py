"""How fast the inbox's page answers with many stored events.

``python -m bench.inbox_views_bench [--events 100000]`` stores demo-like events (visitors
browsing in sessions, logging in, custom events, exceptions) in a fresh SQLite file, starts an
inbox on it, times how long it takes to read every row once (the inbox does that in the
background when it starts), then times every view's page and JSON figures: the first request,
the median of warm requests, and a request right after one more event arrives (the figures are
recomputed). The target (issue 18): each view under a second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from posthog_web.inbox import InboxServer
from posthog_web.inbox.store import EventStore

PATHS = ("/", "/pricing", "/products/1", "/login", "/dashboard", "/blog/a", "/blog/b")
VIEWS = (
    "/analytics?range=all",
    "/analytics?range=day",
    "/",
    "/persons",
    "/sessions",
    "/exceptions",
    "/warnings",
)


def _uuid7(at: dt.datetime, n: int) -> str:
    ms = int(at.timestamp() * 1000)
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{n % 4096:03x}-8{n % 4096:03x}-{n:012x}"


def demo_events(count: int, now: dt.datetime) -> list[dict[str, Any]]:
    """``count`` events: sessions of 1 to 7 page views, a login every third, some errors."""
    events: list[dict[str, Any]] = []
    visitor = 0
    while len(events) < count:
        visitor += 1
        start = now - dt.timedelta(seconds=(visitor * 37) % 86_000)
        session, anon = _uuid7(start, visitor), f"anon-{visitor}"
        for i in range(1 + visitor % 7):
            properties = {
                "$session_id": session,
                "$current_url": f"https://shop.example{PATHS[(visitor + i) % len(PATHS)]}",
                "$browser": ("Chrome", "Firefox", "Safari")[visitor % 3],
                "$os": ("Linux", "Mac OS X", "Windows")[visitor % 3],
                "$device_type": "Desktop",
                "$lib": "web" if i % 2 else "posthog-python",
                "$referring_domain": ("$direct", "news.example")[visitor % 2],
            }
            stamp = (start + dt.timedelta(seconds=i * 9)).isoformat()
            events.append(_event("$pageview", anon, stamp, properties))
        if visitor % 3 == 0:
            events.append(
                _event("$identify", f"user-{visitor}", stamp, {"$anon_distinct_id": anon})
            )
        if visitor % 50 == 0:
            events.append(_event("$exception", anon, stamp, {"$exception_fingerprint": "f1"}))
    return events[:count]


def _event(name: str, distinct_id: str, stamp: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": stamp,
        "api_key": "phc_bench",
        "properties": properties,
    }


def _get(url: str) -> float:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
    return time.perf_counter() - began


def run(count: int) -> tuple[float, list[tuple[str, float, float, float]]]:
    """The start-up read, and each view: (path, first, warm median, after one new event)."""
    with tempfile.TemporaryDirectory(prefix="inbox-bench-") as tmp:
        db = Path(tmp) / "inbox.sqlite3"
        store = EventStore(db)
        now = dt.datetime.now(dt.timezone.utc)
        events = demo_events(count, now)
        for start in range(0, len(events), 5000):
            store.add(events[start : start + 5000])
        store.close()
        results = []
        with InboxServer(db_path=db) as inbox:
            startup = _get(inbox.url + "/api/view/events?limit=1")
            for path in VIEWS:
                first = _get(inbox.url + path)
                warm = statistics.median(_get(inbox.url + path) for _ in range(5))
                inbox._store.add([_event("late", "anon-1", now.isoformat(), {})])
                after = _get(inbox.url + path)
                results.append((path, first, warm, after))
            api = "/api/view/analytics?range=all"
            results.append((api, _get(inbox.url + api), _get(inbox.url + api), 0.0))
        return startup, results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    print(f"inbox views with {args.events} stored events (seconds)")
    print(f"  {'view':<32} {'first':>7} {'warm':>7} {'+1 event':>9}")
    slowest = 0.0
    startup, results = run(args.events)
    print(f"  reading every stored row at start-up: {startup:.3f}")
    for path, first, warm, after in results:
        print(f"  {path:<32} {first:7.3f} {warm:7.3f} {after:9.3f}")
        slowest = max(slowest, first, warm, after)
    print(f"slowest answer: {slowest:.3f} s ({'under' if slowest < 1 else 'OVER'} the 1 s target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
