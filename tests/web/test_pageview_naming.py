"""What a page view is called: the page's <title>, pageview_properties() and page()."""

from __future__ import annotations

from typing import Any

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.tracker import Tracker, TrackerOptions

BODY = b"<!doctype html><head><title>Breads &amp; buns</title></head><p>..."


def page(body: bytes | None = BODY, *, streaming: bool = False, status: int = 200) -> ResponseView:
    return ResponseView(status, "text/html; charset=utf-8", streaming=streaming, body=body)


def get(**headers: str) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="bakery.example",
        path="/breads/",
        query_string="",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        cookies={},
    )


def pageviews(client: Client, recorder: RecorderTransport) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return [e["properties"] for e in recorder.events if e["event"] == "$pageview"]


def test_the_title_is_the_pages_title(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(get())
    tracker.finish(ctx, page(), route="/breads/", route_name="bakery:breads", view="app.breads")
    [props] = pageviews(client, recorder)
    assert props["title"] == "Breads & buns"
    assert (props["route"], props["route_name"], props["view"]) == (
        "/breads/",
        "bakery:breads",
        "app.breads",
    )


def test_a_streamed_or_untitled_page_has_no_title(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s", record_pageview=lambda q, r: True))
    for response in (page(streaming=True), page(None), page(b"<p>no title</p>")):
        tracker.finish(tracker.start(get()), response)
    assert [p.get("title") for p in pageviews(client, recorder)] == [None, None, None]


def test_pageview_properties_name_the_automatic_page_view(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(get())
    ctx.helper.pageview_properties("Breads", {"section": "shop", "a": 1})
    ctx.helper.pageview_properties(properties={"a": 2})
    tracker.finish(ctx, page())
    [props] = pageviews(client, recorder)
    assert props["title"] == "Breads"  # wins over the page's <title>
    assert (props["section"], props["a"]) == ("shop", 2)


def test_pageview_properties_never_force_a_page_view(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    cases = [
        (get(user_agent="curl/8.5.0"), page()),
        (get(sec_fetch_dest="empty", sec_fetch_mode="cors"), page()),
        (get(sec_purpose="prefetch"), page()),
        (get(hx_request="true"), page()),
        (get(), page(status=404)),
        (get(), ResponseView(200, "application/json", body=b"{}")),
    ]
    for request, response in cases:
        ctx = tracker.start(request)
        ctx.helper.pageview_properties("Every page", {"hook": True})
        tracker.finish(ctx, response)
    assert pageviews(client, recorder) == []


def test_page_forces_a_page_view_and_wins(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(get(user_agent="curl/8.5.0"))
    ctx.helper.pageview_properties("Auto", {"a": 1, "b": 1})
    ctx.helper.page("Explicit", {"b": 2})
    tracker.finish(ctx, page())
    [props] = pageviews(client, recorder)
    assert (props["title"], props["a"], props["b"]) == ("Explicit", 1, 2)
