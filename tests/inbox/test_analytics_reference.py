"""The column-wise web analytics against a plain, event-by-event reference on generated data,
and the garbage collector pause the views compute under."""

from __future__ import annotations

import datetime as dt
import gc
import threading
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from posthog_web.inbox.analytics import TimedEvent, web_analytics
from posthog_web.inbox.store import EventStore
from posthog_web.inbox.ui.data import InboxData

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
SESSIONS = (
    "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01",
    "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e02",
    "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e03",
    "1f0e8e4a-7d1c-4f5e-9a1b-2c3d4e5f6a7b",  # not a UUIDv7: no session
    None,
)
NAMES = ("$pageview", "$screen", "$autocapture", "clicked")

_event = st.builds(
    lambda seconds, person, name, session, path, browser, referrer: (
        seconds,
        person,
        name,
        {
            k: v
            for k, v in {
                "$session_id": session,
                "$pathname": path,
                "$browser": browser,
                "$referring_domain": referrer,
            }.items()
            if v is not None
        },
    ),
    st.integers(0, 7200),
    st.sampled_from(("p1", "p2", "p3", "a1")),
    st.sampled_from(NAMES),
    st.sampled_from(SESSIONS),
    st.sampled_from(("/", "/a", "/b", "", None)),
    st.sampled_from(("Chrome", "Firefox", "", None)),
    st.sampled_from(("$direct", "news.example", None)),
)


def _timed(raw: list[tuple[int, str, str, dict[str, Any]]]) -> list[TimedEvent]:
    return [
        TimedEvent(T0 + dt.timedelta(seconds=s), p, {"event": n, "properties": props})
        for s, p, n, props in raw
    ]


def _reference(events: list[TimedEvent], low: float, of: dict[str, str]) -> dict[str, Any]:
    """The definitions of docs/inbox.md, one event at a time, in dicts of sets."""
    chosen = [e for e in events if e.time.timestamp() >= low]
    pages = [e for e in chosen if e.event["event"] in ("$pageview", "$screen")]
    sessions: dict[str, list[TimedEvent]] = {}
    for e in chosen:
        sid = e.event["properties"].get("$session_id")
        if sid in SESSIONS[:3]:
            sessions.setdefault(sid, []).append(e)
    sessions = {k: v for k, v in sessions.items() if any(e in pages for e in v)}

    def tally(pairs: list[tuple[Any, str]], key: str) -> list[dict[str, Any]]:
        seen: dict[Any, set[str]] = {}
        counts: dict[Any, int] = {}
        for value, person in pairs:
            if value not in (None, ""):
                seen.setdefault(value, set()).add(person)
                counts[value] = counts.get(value, 0) + 1
        ranked = sorted(seen, key=lambda v: (-len(seen[v]), -counts[v], v))[:10]
        return [{"value": v, "visitors": len(seen[v]), key: counts[v]} for v in ranked]

    def who(e: TimedEvent) -> str:
        return of.get(e.person, e.person)

    def prop(e: TimedEvent, name: str) -> Any:
        return e.event["properties"].get(name)

    firsts = [next(e for e in v if e in pages) for v in sessions.values()]
    lasts = [[e for e in v if e in pages][-1] for v in sessions.values()]
    bounces = 0
    for v in sessions.values():
        times = [e.time.timestamp() for e in v]
        interactions = sum(1 for e in v if e in pages or e.event["event"] == "$autocapture")
        bounces += interactions <= 1 and max(times) - min(times) < 10
    return {
        "visitors": len({who(e) for e in pages}),
        "page_views": len(pages),
        "sessions": len(sessions),
        "bounces": bounces,
        "pages": tally([(e.path, who(e)) for e in pages], "views"),
        "browsers": tally([(prop(e, "$browser"), who(e)) for e in pages], "views"),
        "entry_pages": tally([(e.path, who(e)) for e in firsts], "sessions"),
        "exit_pages": tally(
            [(e.path, who(f)) for e, f in zip(lasts, firsts, strict=True)], "sessions"
        ),
        "referring_domains": tally(
            [(prop(e, "$referring_domain"), who(e)) for e in firsts], "sessions"
        ),
    }


@given(st.lists(_event, min_size=8, max_size=60), st.sampled_from(("hour", "all")))
def test_the_figures_match_a_plain_event_by_event_count(
    raw: list[tuple[int, str, str, dict[str, Any]]], range_name: str
) -> None:
    events, of = _timed(raw), {"a1": "p1"}
    now = T0 + dt.timedelta(seconds=7200)
    found = web_analytics(events, now=now, range_name=range_name, person_of=of)
    low = -1e18 if range_name == "all" else (now - dt.timedelta(hours=1)).timestamp()
    want = _reference(events, low, of)
    assert found["visitors"] == want["visitors"]
    assert found["page_views"] == want["page_views"]
    assert found["sessions"] == want["sessions"]
    assert round(found["bounce_rate"] * found["sessions"]) == want["bounces"]
    for name in ("pages", "browsers", "entry_pages", "exit_pages", "referring_domains"):
        assert found["breakdowns"][name] == want[name], name
    assert sum(b["page_views"] for b in found["series"]) == want["page_views"]


def _store_with_events(tmp_path: Any) -> EventStore:
    store = EventStore(tmp_path / "inbox.sqlite3")
    stamp = T0.isoformat()
    event = {"event": "$pageview", "distinct_id": "p1", "timestamp": stamp, "properties": {}}
    store.add([{**event, "uuid": "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e09", "api_key": "phc_t"}])
    return store


def test_the_collector_is_paused_only_while_a_view_computes(tmp_path: Any) -> None:
    store = _store_with_events(tmp_path)
    try:
        snapshot = InboxData(store).snapshot()
        assert gc.isenabled()
        assert snapshot.memo("seen", gc.isenabled) is False
        assert gc.isenabled()
    finally:
        store.close()


def test_a_collector_the_app_turned_off_stays_off(tmp_path: Any) -> None:
    store = _store_with_events(tmp_path)
    gc.disable()
    try:
        InboxData(store).snapshot().memo("x", lambda: 1)
        assert not gc.isenabled()
    finally:
        gc.enable()
        store.close()


def test_overlapping_computations_share_one_pause(tmp_path: Any) -> None:
    store = _store_with_events(tmp_path)
    try:
        snapshot = InboxData(store).snapshot()
        inside, release = threading.Event(), threading.Event()

        def slow() -> bool:
            inside.set()
            assert release.wait(10)
            return gc.isenabled()

        worker = threading.Thread(target=snapshot.memo, args=("slow", slow))
        worker.start()
        assert inside.wait(10)
        # A second computation starts and ends while the first is still under way.
        other = InboxData(store).snapshot()
        assert other.memo("quick", gc.isenabled) is False
        assert not gc.isenabled()  # the first one still computes
        release.set()
        worker.join(10)
        assert not worker.is_alive()
        assert gc.isenabled()
        assert snapshot.memo("slow", slow) is False
    finally:
        release.set()
        store.close()
