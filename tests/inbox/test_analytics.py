"""The web analytics figures against small data sets computed by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from posthog_web.inbox.analytics import TimedEvent, event_time, pathname, web_analytics

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
S1 = "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01"
S2 = "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e02"
S3 = "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e03"
NOT_V7 = "1f0e8e4a-7d1c-4f5e-9a1b-2c3d4e5f6a7b"


def at(seconds: float, person: str, name: str, **properties: Any) -> TimedEvent:
    event = {"event": name, "distinct_id": person, "properties": properties}
    return TimedEvent(T0 + dt.timedelta(seconds=seconds), person, event)


def page(seconds: float, person: str, path: str, session: str | None, **more: Any) -> TimedEvent:
    properties = {"$current_url": f"https://shop.example{path}?q=1", **more}
    if session is not None:
        properties["$session_id"] = session
    return at(seconds, person, "$pageview", **properties)


# By hand:
#   S1 (p1): /home at 0, /pricing at 30, a custom event at 60 -> 60 s, two pages, no bounce;
#   S2 (p1): /home at 100, alone -> 0 s, bounce;
#   S3 (p2): /blog at 200, a custom event at 215 -> one page but 15 s, no bounce;
#   p3: /x in a session that is not a UUIDv7, p4: /y without a session -> page views, no session.
EVENTS = [
    page(0, "p1", "/home", S1, **{"$referring_domain": "news.example", "utm_source": "mail"}),
    page(30, "p1", "/pricing", S1, **{"$browser": "Firefox"}),
    at(60, "p1", "clicked", **{"$session_id": S1}),
    page(100, "p1", "/home", S2, **{"$referring_domain": "$direct"}),
    page(200, "p2", "/blog", S3, **{"$browser": "Chrome", "$geoip_country_code": "DE"}),
    at(215, "p2", "read", **{"$session_id": S3}),
    page(300, "p3", "/x", NOT_V7),
    page(400, "p4", "/y", None),
]


def test_overview_figures_match_the_hand_computed_ones() -> None:
    found = web_analytics(EVENTS, now=T0 + dt.timedelta(minutes=10), range_name="hour")
    assert found["page_views"] == 6
    assert found["visitors"] == 4
    assert found["sessions"] == 3
    assert found["session_duration"] == pytest.approx((60 + 0 + 15) / 3)
    assert found["bounce_rate"] == pytest.approx(1 / 3)


def test_entry_exit_and_top_pages() -> None:
    found = web_analytics(EVENTS, now=T0 + dt.timedelta(minutes=10), range_name="all")
    breakdowns = found["breakdowns"]
    assert breakdowns["entry_pages"] == [
        {"value": "/home", "visitors": 1, "sessions": 2},
        {"value": "/blog", "visitors": 1, "sessions": 1},
    ]
    assert {r["value"]: r["sessions"] for r in breakdowns["exit_pages"]} == {
        "/pricing": 1,
        "/home": 1,
        "/blog": 1,
    }
    pages = {r["value"]: (r["visitors"], r["views"]) for r in breakdowns["pages"]}
    assert pages == {
        "/home": (1, 2),
        "/pricing": (1, 1),
        "/blog": (1, 1),
        "/x": (1, 1),
        "/y": (1, 1),
    }
    assert breakdowns["referring_domains"] == [
        {"value": "$direct", "visitors": 1, "sessions": 1},
        {"value": "news.example", "visitors": 1, "sessions": 1},
    ]
    assert breakdowns["utm_sources"] == [{"value": "mail", "visitors": 1, "sessions": 1}]
    assert {r["value"] for r in breakdowns["browsers"]} == {"Firefox", "Chrome"}
    assert breakdowns["countries"] == [{"value": "DE", "visitors": 1, "views": 1}]


def test_a_short_session_with_an_autocapture_is_not_a_bounce() -> None:
    events = [page(0, "p", "/", S1), at(2, "p", "$autocapture", **{"$session_id": S1})]
    found = web_analytics(events, now=T0 + dt.timedelta(seconds=5), range_name="hour")
    assert (found["sessions"], found["bounce_rate"]) == (1, 0.0)


def test_a_session_of_one_page_view_under_ten_seconds_bounces_at_any_length_below() -> None:
    events = [page(0, "p", "/", S1), at(9.9, "p", "custom", **{"$session_id": S1})]
    found = web_analytics(events, now=T0 + dt.timedelta(seconds=20), range_name="hour")
    assert found["bounce_rate"] == 1.0
    assert found["session_duration"] == pytest.approx(9.9)


def test_the_range_leaves_out_older_events_and_the_series_adds_up() -> None:
    now = T0 + dt.timedelta(hours=2)
    hour = web_analytics([*EVENTS, page(7000, "p9", "/late", None)], now=now, range_name="hour")
    assert hour["page_views"] == 1
    day = web_analytics(EVENTS, now=now, range_name="day")
    assert day["page_views"] == 6
    assert sum(point["page_views"] for point in day["series"]) == 6
    assert len(day["series"]) == 24
    with pytest.raises(ValueError, match="range must be one of"):
        web_analytics(EVENTS, now=now, range_name="week")


def test_no_events_gives_zeros_not_errors() -> None:
    found = web_analytics([], now=T0, range_name="all")
    assert (found["visitors"], found["sessions"], found["bounce_rate"], found["series"]) == (
        0,
        0,
        0.0,
        [],
    )


def test_pathname_and_event_time() -> None:
    assert pathname({"$pathname": "/a", "$current_url": "https://x/b"}) == "/a"
    assert pathname({"$current_url": "https://x"}) == "/"
    assert pathname({}) is None
    assert event_time({"timestamp": "2026-01-01T12:00:00Z"}) == T0
    assert event_time({"timestamp": "nonsense"}, "2026-01-01T12:00:00+00:00") == T0
    assert event_time({}) is None
