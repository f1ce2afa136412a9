"""The framework-neutral tracker and request helper, checked on the events they build."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest

import posthog_web
from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.events import uuid7
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.helper import NoopHelper, RequestHelper, bind, current, unbind
from posthog_web.web.tracker import Tracker, TrackerOptions

HTML = ResponseView(200, "text/html")


def sent(
    client: Client, recorder: RecorderTransport, event: str | None = None
) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return [e for e in recorder.events if event is None or e["event"] == event]


def make_request(
    path: str = "/", cookies: dict[str, str] | None = None, **headers: str
) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path=path,
        query_string="",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        cookies=cookies or {},
        client_ip="203.0.113.7",
    )


def tracker_for(client: Client, **options: Any) -> Tracker:
    return Tracker(client, TrackerOptions(cookie_secret="s", **options))


def test_helper_surface(client: Client, recorder: RecorderTransport) -> None:
    tracker = tracker_for(client)
    ctx = tracker.start(make_request(user_agent="Mozilla/5.0"))
    helper = ctx.helper
    assert isinstance(helper, RequestHelper)
    assert not helper.is_identified
    assert helper.session_id is not None  # the server's own (sessions.py)
    assert not helper.explicit_identity
    helper.capture("clicked", {"a": 1}, timestamp=dt.datetime(2026, 1, 2, 3, 4, 5))
    helper.screen("Checkout", {"step": 2})
    helper.identify({"plan": "pro"}, {"first_seen": "today"})
    helper.alias("legacy-77")
    assert "distinct_id=" in repr(helper)
    tracker.finish(ctx, HTML)
    tracker.finish(ctx, HTML)  # once only
    helper.page("Late")  # after the response: recorded at once

    events = sent(client, recorder)
    by_name = {e["event"]: e for e in events}
    anon_id = ctx.anon_id
    assert {e["distinct_id"] for e in events} == {anon_id}
    clicked = by_name["clicked"]
    assert clicked["timestamp"].startswith("2026-01-02T03:04:05")
    assert clicked["properties"]["$raw_user_agent"] == "Mozilla/5.0"
    assert clicked["properties"]["$ip"] == "203.0.113.7"
    assert clicked["properties"]["$process_person_profile"] is False
    assert by_name["$screen"]["properties"]["$screen_name"] == "Checkout"
    identify = by_name["$identify"]
    assert identify["$set"] == {"plan": "pro"}
    assert identify["$set_once"] == {"first_seen": "today"}
    assert identify["properties"]["$process_person_profile"] is True
    assert by_name["$create_alias"]["properties"] == {
        **by_name["$create_alias"]["properties"],
        "alias": "legacy-77",
        "distinct_id": anon_id,
    }
    titles = [e["properties"].get("title") for e in events if e["event"] == "$pageview"]
    assert titles == [None, "Late"]
    for cookie in tracker.response_cookies(ctx):  # the anonymous id and the session
        assert cookie.secure
        assert cookie.httponly
        assert cookie.samesite == "Lax"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda h: h.capture(""), ValueError),
        (lambda h: h.capture(5), TypeError),
        (lambda h: h.capture("e", ["x"]), TypeError),
        (lambda h: h.capture("e", {1: "x"}), TypeError),
        (lambda h: h.capture("e", {"x": object()}), TypeError),
        (lambda h: h.capture("e", {"x": float("nan")}), TypeError),
        (lambda h: h.capture("e", timestamp="yesterday"), ValueError),
        (lambda h: h.page(5), TypeError),
        (lambda h: h.pageview_properties(5), TypeError),
        (lambda h: h.pageview_properties("n", {"x": object()}), TypeError),
        (lambda h: h.screen(""), ValueError),
        (lambda h: h.identify({"x": {1, object()}}), TypeError),
        (lambda h: h.identify(properties_once=[1]), TypeError),
        (lambda h: h.alias("null"), ValueError),
        (lambda h: h.login("0"), ValueError),
        (lambda h: h.login("u1", {"x": object()}), TypeError),
    ],
)
def test_bad_input_raises_with_the_field(client: Client, call: Any, error: type[Exception]) -> None:
    tracker = tracker_for(client)
    with pytest.raises(error):
        call(tracker.start(make_request()).helper)
    with pytest.raises(error):
        call(NoopHelper())


def test_noop_helper(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(NoopHelper, "_warned", set())
    helper = posthog_web.current()
    assert isinstance(helper, NoopHelper)
    assert repr(helper) == "<NoopHelper>"
    assert helper.distinct_id == ""
    assert helper.session_id is None
    assert not helper.is_identified
    assert not helper.explicit_identity
    helper.capture("e", {"a": 1}, timestamp="2026-01-01T00:00:00Z")
    helper.page("p")
    helper.pageview_properties("p", {"a": 1})
    helper.screen("s")
    helper.identify({"a": 1})
    helper.alias("other")
    helper.login("u1")
    helper.logout()
    assert caplog.text.count("outside a request") == 1


def test_bind_and_unbind(client: Client) -> None:
    ctx = tracker_for(client).start(make_request())
    token = bind(ctx.helper)
    try:
        assert current() is ctx.helper
    finally:
        unbind(token)
    assert isinstance(current(), NoopHelper)


def test_package_errors_are_swallowed(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracker = tracker_for(client)
    helper = tracker.start(make_request()).helper

    def explode(event: dict[str, Any]) -> None:
        raise RuntimeError("sender broke")

    monkeypatch.setattr(client, "enqueue", explode)
    helper.capture("e")
    helper.capture("e")
    assert "capture failed; the response is unchanged" in caplog.text
    assert "capture failed again" in caplog.text


def test_set_user_and_identify_dedup(
    client: Client, recorder: RecorderTransport, caplog: pytest.LogCaptureFixture
) -> None:
    tracker = tracker_for(client)
    for props in ({"email": "a@x"}, {"email": "a@x"}, {"email": "b@x"}):
        ctx = tracker.start(make_request())
        tracker.set_user(ctx, "u1", props)
        assert ctx.helper.is_identified
        tracker.finish(ctx, HTML)
        # The anonymous cookie remembers what this browser identified (its id unused).
        assert [c.name for c in tracker.response_cookies(ctx)] == ["ph_web_id", "ph_web_session"]
        assert ctx.anon_used is False
    assert [e["$set"]["email"] for e in sent(client, recorder, "$identify")] == ["a@x", "b@x"]
    ctx = tracker.start(make_request())
    tracker.set_user(ctx, "u1")
    tracker.set_user(ctx, None)
    assert not ctx.helper.is_identified
    for _ in range(2):
        tracker.set_user(ctx, "null")
        tracker.set_user(ctx, 5)  # type: ignore[arg-type]
    assert ctx.user_id is None
    assert caplog.text.count("not sending user id 'null'") == 1


def test_identify_cache_is_bounded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    import posthog_web.web.login as tracker_module

    monkeypatch.setattr(tracker_module, "_IDENTIFY_CACHE_SIZE", 2)
    monkeypatch.setattr(tracker_module, "_WARNED_IDS_SIZE", 1)
    tracker = tracker_for(client)
    ctx = tracker.start(make_request())
    for user in ("u1", "u2", "u3"):
        tracker.set_user(ctx, user, {"x": 1})
    assert list(tracker._identified) == ["u2", "u3"]
    tracker.set_user(ctx, "null")
    tracker.set_user(ctx, "none")
    assert len(tracker._warned_ids) == 1


def test_digest_of_unencodable_properties(client: Client, recorder: RecorderTransport) -> None:
    tracker = tracker_for(client)
    ctx = tracker.start(make_request())
    tracker.set_user(ctx, "u1", {"x": object()})
    assert "u1" in tracker._identified


def test_login_from_an_identified_request_uses_the_anonymous_id(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = tracker_for(client)
    anon = uuid7()
    ctx = tracker.start(make_request(x_posthog_distinct_id=anon))
    tracker.set_user(ctx, "u0")
    ctx.helper.login("u1", {"email": "u1@x"})
    assert ctx.helper.explicit_identity
    [alias] = sent(client, recorder, "$create_alias")
    assert alias["properties"]["alias"] == anon


def test_logout_then_events_use_the_new_id(client: Client, recorder: RecorderTransport) -> None:
    tracker = tracker_for(client)
    browser_session = uuid7()
    ctx = tracker.start(make_request(x_posthog_session_id=browser_session))
    tracker.set_user(ctx, "u1")
    ctx.helper.logout()
    assert ctx.session_id not in (None, browser_session)  # a new session, as reset() does
    ctx.helper.capture("after")
    [event] = sent(client, recorder, "after")
    assert event["properties"]["$session_id"] == ctx.session_id
    cookie, _session = tracker.response_cookies(ctx)
    assert event["distinct_id"] == cookie.value.split(".")[1]
    assert event["properties"]["$process_person_profile"] is False


def test_cookie_options(client: Client) -> None:
    tracker = tracker_for(
        client, cookie_secure=False, cookie_domain=".example.com", anonymous_cookie_name="vid"
    )
    ctx = tracker.start(make_request())
    ctx.helper.distinct_id  # noqa: B018 - reading the id is what mints it
    [cookie] = tracker.response_cookies(ctx)
    assert (cookie.name, cookie.secure, cookie.domain) == ("vid", False, ".example.com")


def test_unsigned_cookie_warns(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        Tracker(client)
    assert "not signed" in caplog.text


def test_is_pageview_and_no_bot_filter(client: Client) -> None:
    tracker = tracker_for(client, filter_bots=False, bot_user_agents=["x"])
    assert tracker.is_pageview(make_request(user_agent="Googlebot"), HTML)
    strict = tracker_for(client, bot_user_agents=["MyMonitor"])
    assert not strict.is_pageview(make_request(user_agent="mymonitor/2"), HTML)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"exclude_paths": "^/x"}, TypeError),
        ({"include_paths": None}, TypeError),
        ({"static_prefixes": [1]}, TypeError),
        ({"record_pageview": 5}, TypeError),
        ({"person_profiles": "never"}, ValueError),
        ({"anonymous_cookie_name": ""}, ValueError),
        ({"cookie_secret": 5}, TypeError),
        ({"cookie_max_age": 0}, ValueError),
        ({"session_idle_timeout_seconds": True}, ValueError),
        ({"cookie_secure": "yes"}, TypeError),
        ({"cookie_domain": 5}, TypeError),
        ({"filter_bots": 1}, TypeError),
    ],
)
def test_bad_options(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        TrackerOptions(**options)


def test_options_are_normalized() -> None:
    options = TrackerOptions(exclude_paths=["^/a"])
    assert options.exclude_paths == ("^/a",)


def test_posthog_js_cookie_without_api_key(recorder: RecorderTransport) -> None:
    class NoKey:
        def enqueue(self, event: dict[str, Any]) -> None:
            pass

    tracker = Tracker(NoKey(), TrackerOptions(cookie_secret="s"))  # type: ignore[arg-type]
    ctx = tracker.start(make_request(cookies={"ph_phc_test_posthog": "%7B%7D"}))
    assert ctx.anonymous.source == "new"
