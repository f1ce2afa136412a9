"""The visitor is resolved on first use: requests that record nothing read no identity."""

from __future__ import annotations

from typing import Any

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.tracker import Tracker, TrackerOptions

JSON = ResponseView(200, "application/json")
HTML = ResponseView(200, "text/html")


class ReadLog(dict[str, str]):
    """Request cookies that remember which names were looked up."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.read.append(key)
        return super().get(key, default)


def request(cookies: dict[str, str], **headers: str) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path="/api/items",
        query_string="",
        headers=headers,
        cookies=cookies,
        client_ip="203.0.113.7",
    )


def returning_visitor(tracker: Tracker) -> tuple[str, dict[str, str]]:
    ctx = tracker.start(request({}))
    tracker.finish(ctx, HTML)
    cookies = {c.name: c.value for c in tracker.response_cookies(ctx)}
    return ctx.helper.distinct_id, cookies


def test_a_request_recording_nothing_reads_no_identity_cookie(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    _, cookies = returning_visitor(tracker)
    jar = ReadLog(cookies)
    ctx = tracker.start(request(jar))
    tracker.finish(ctx, JSON)
    assert tracker.response_cookies(ctx) == []
    assert "ph_web_id" not in jar.read
    assert "ph_web_session" not in jar.read
    assert client.flush(timeout=10)
    assert [e["event"] for e in recorder.events] == ["$pageview"]


def test_a_view_capturing_on_such_a_request_gets_the_visitor(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    distinct_id, cookies = returning_visitor(tracker)
    ctx = tracker.start(request(cookies))
    ctx.helper.capture("item listed")
    tracker.finish(ctx, JSON)
    assert tracker.response_cookies(ctx) == []  # the visitor and session were kept
    assert client.flush(timeout=10)
    first, second = recorder.events
    assert second["event"] == "item listed"
    assert second["distinct_id"] == distinct_id
    assert second["properties"]["$session_id"] == first["properties"]["$session_id"]


def test_an_opted_out_visitor_still_loses_its_cookies(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    _, cookies = returning_visitor(tracker)
    ctx = tracker.start(request(cookies, **{"sec-gpc": "1"}))
    tracker.finish(ctx, JSON)
    expired = tracker.response_cookies(ctx)
    assert sorted(c.name for c in expired) == ["ph_web_id", "ph_web_session"]
    assert all(c.max_age == 0 for c in expired)
