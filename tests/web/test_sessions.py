"""Server-side sessions and the posthog-js opt-out cookie, on the events the tracker builds."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.events import is_uuid7, uuid7, uuid7_at, uuid7_time_ms
from posthog_web.web import RequestView, ResponseView, SetCookie
from posthog_web.web.identity import CookieSigner, is_opt_out, opt_out_cookie_name
from posthog_web.web.sessions import MAX_SESSION_SECONDS, ServerSession, SessionCookie
from posthog_web.web.tracker import Tracker, TrackerOptions

HTML = ResponseView(200, "text/html")
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
SESSION = "ph_web_session"
MINUTE = 60_000


@pytest.fixture
def keeper() -> SessionCookie:
    return SessionCookie(CookieSigner("s"), idle_timeout=1800)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- the cookie on its own ----------------------------------------------------------------


def test_a_new_session_starts_now_as_a_uuid7(keeper: SessionCookie) -> None:
    now = now_ms()
    session_id, session = keeper.resume(None, now)
    assert session is not None
    assert session.session_id == session_id
    assert is_uuid7(session_id)
    assert uuid7_time_ms(session_id) == now == session.start_ms
    assert keeper.loads(keeper.dumps(session)) == session


def test_a_live_session_is_kept_without_a_write(keeper: SessionCookie) -> None:
    now = now_ms()
    _, session = keeper.resume(None, now)
    assert session is not None
    raw = keeper.dumps(session)
    assert keeper.resume(raw, now + 30_000) == (session.session_id, None)


def test_last_activity_is_written_at_most_once_a_minute(keeper: SessionCookie) -> None:
    now = now_ms()
    _, session = keeper.resume(None, now)
    assert session is not None
    session_id, refreshed = keeper.resume(keeper.dumps(session), now + MINUTE)
    assert session_id == session.session_id
    assert refreshed == ServerSession(session.session_id, (now + MINUTE) // 1000)


@pytest.mark.parametrize(
    "case",
    ["idle", "too old", "last activity in the future", "start in the future"],
)
def test_a_stale_session_is_replaced(keeper: SessionCookie, case: str) -> None:
    now = now_ms()
    start, last = {
        "idle": (now - 40 * MINUTE, now - 31 * MINUTE),
        "too old": (now - MAX_SESSION_SECONDS * 1000 - 1, now - MINUTE),
        "last activity in the future": (now - MINUTE, now + 10 * MINUTE),
        "start in the future": (now + 10 * MINUTE, now),
    }[case]
    old = ServerSession(uuid7_at(start), last // 1000)
    session_id, new = keeper.resume(keeper.dumps(old), now)
    assert new is not None
    assert session_id == new.session_id != old.session_id
    assert new.start_ms == now


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "garbage",
        "1.not-a-uuid.123.sig",
        f"1.{uuid7()}.123.forged-signature-00000",
        "x" * 500,
    ],
)
def test_a_bad_cookie_is_ignored(keeper: SessionCookie, raw: str) -> None:
    assert keeper.loads(raw) is None
    session_id, new = keeper.resume(raw, now_ms())
    assert new is not None
    assert new.session_id == session_id


def test_a_cookie_signed_with_another_secret_is_ignored(keeper: SessionCookie) -> None:
    other = SessionCookie(CookieSigner("other"), idle_timeout=1800)
    _, session = other.resume(None, now_ms())
    assert session is not None
    assert keeper.loads(other.dumps(session)) is None
    # An anonymous-id cookie's signature never validates a session cookie.
    signer = CookieSigner("s")
    assert keeper.loads(signer.dumps(signer.new())) is None


def test_tampered_values_are_refused(keeper: SessionCookie) -> None:
    _, session = keeper.resume(None, now_ms())
    assert session is not None
    raw = keeper.dumps(session)
    version, session_id, last, sig = raw.split(".")
    assert keeper.loads(f"{version}.{session_id}.{int(last) + 3600}.{sig}") is None
    assert keeper.loads(f"{version}.{uuid7()}.{last}.{sig}") is None


def test_max_age_follows_the_idle_timeout() -> None:
    assert SessionCookie(CookieSigner("s"), idle_timeout=1800).max_age == 1860
    assert SessionCookie(CookieSigner("s"), idle_timeout=36_000, refresh=60).max_age == 36_060
    with pytest.raises(ValueError, match="positive"):
        SessionCookie(CookieSigner("s"), idle_timeout=0)


# --- in the tracker -------------------------------------------------------------------------


def sent(client: Client, recorder: RecorderTransport, event: str | None = None) -> list[Any]:
    assert client.flush(timeout=10)
    return [e for e in recorder.events if event is None or e["event"] == event]


def request(cookies: dict[str, str] | None = None, **headers: str) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path="/",
        query_string="",
        headers={"user-agent": UA, **{k.replace("_", "-"): v for k, v in headers.items()}},
        cookies=cookies or {},
        client_ip="203.0.113.7",
    )


def visit(tracker: Tracker, req: RequestView) -> list[SetCookie]:
    ctx = tracker.start(req)
    tracker.finish(ctx, HTML)
    return tracker.response_cookies(ctx)


def jar(cookies: list[SetCookie], into: dict[str, str] | None = None) -> dict[str, str]:
    into = dict(into or {})
    into.update({c.name: c.value for c in cookies})
    return into


def test_page_views_share_the_server_session(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    first = visit(tracker, request())
    assert {c.name for c in first} == {"ph_web_id", SESSION}
    [session_cookie] = [c for c in first if c.name == SESSION]
    assert session_cookie.httponly
    assert session_cookie.secure
    assert session_cookie.max_age == 1860
    # The next pages continue the session and (within the minute) set no cookie at all.
    cookies = jar(first)
    assert visit(tracker, request(cookies)) == []
    assert visit(tracker, request(cookies)) == []
    views = sent(client, recorder, "$pageview")
    session_ids = {v["properties"]["$session_id"] for v in views}
    assert len(views) == 3
    assert len(session_ids) == 1
    [session_id] = session_ids
    assert is_uuid7(session_id)
    first_ms = min(uuid7_time_ms(v["uuid"]) for v in views)
    assert uuid7_time_ms(session_id) <= first_ms


def test_requests_without_events_touch_no_session(client: Client) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(request())
    tracker.finish(ctx, ResponseView(200, "application/json"))
    assert tracker.response_cookies(ctx) == []


def test_the_idle_timeout_rotates_the_session(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s", session_idle_timeout_seconds=60))
    keeper = SessionCookie(CookieSigner("s"), idle_timeout=60)
    then = now_ms() - 5 * MINUTE
    old = ServerSession(uuid7_at(then), then // 1000)
    cookies = visit(tracker, request({SESSION: keeper.dumps(old)}))
    [new] = [c for c in cookies if c.name == SESSION]
    [view] = sent(client, recorder, "$pageview")
    assert view["properties"]["$session_id"] not in (None, old.session_id)
    assert keeper.loads(new.value) is not None


def test_posthog_js_session_wins(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    server = visit(tracker, request())
    browser_session = uuid7()
    now = now_ms()
    posthog_js = quote(
        json.dumps(
            {
                "distinct_id": uuid7(),
                "$user_state": "anonymous",
                "$sesid": [now, browser_session, now - MINUTE],
            }
        ),
        safe="",
    )
    header_session = uuid7()
    cookies = jar(server, {"ph_phc_test_posthog": posthog_js})
    assert visit(tracker, request(cookies)) == []  # our session cookie is left alone
    visit(tracker, request(cookies, x_posthog_session_id=header_session))
    _server, from_cookie, from_header = sent(client, recorder, "$pageview")
    assert from_cookie["properties"]["$session_id"] == browser_session
    assert from_header["properties"]["$session_id"] == header_session


def test_logout_starts_a_new_session(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    cookies = jar(visit(tracker, request()))
    ctx = tracker.start(request(cookies))
    tracker.set_user(ctx, "u1")
    ctx.helper.logout()
    tracker.finish(ctx, HTML)
    names = [c.name for c in tracker.response_cookies(ctx)]
    assert names == ["ph_web_id", SESSION]
    before, after = sent(client, recorder, "$pageview")
    assert before["properties"]["$session_id"] != after["properties"]["$session_id"]


def test_cookieless_mode_keeps_no_server_session(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s", cookieless_mode="per_request"))
    assert visit(tracker, request()) == []
    [view] = sent(client, recorder, "$pageview")
    assert "$session_id" not in view["properties"]


def test_session_cookie_name_is_checked() -> None:
    TrackerOptions(session_cookie_name="my_session")
    with pytest.raises(ValueError, match="session_cookie_name"):
        TrackerOptions(session_cookie_name="bad name;")


# --- the posthog-js opt-out cookie ------------------------------------------------------------


def test_opt_out_values() -> None:
    assert opt_out_cookie_name("phc_test") == "__ph_opt_in_out_phc_test"
    for value in ("0", "false", "no", " 0 "):
        assert is_opt_out(value)
    for value in (None, "1", "true", "yes", "", "maybe"):
        assert not is_opt_out(value)


def test_opted_out_visitor_gets_no_events_and_no_cookies(
    client: Client, recorder: RecorderTransport
) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    earlier = visit(tracker, request())
    before = len(sent(client, recorder))
    cookies = jar(earlier, {"__ph_opt_in_out_phc_test": "0"})
    ctx = tracker.start(request(cookies))
    ctx.helper.capture("clicked")
    ctx.helper.login("u1", {"email": "a@example.com"})
    assert ctx.helper.posthog_js() is None
    tracker.finish(ctx, HTML)
    expired = tracker.response_cookies(ctx)
    assert sorted((c.name, c.value, c.max_age) for c in expired) == [
        ("ph_web_id", "", 0),
        (SESSION, "", 0),
    ]
    assert len(sent(client, recorder)) == before


def test_opted_in_visitor_is_tracked(client: Client, recorder: RecorderTransport) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    visit(tracker, request({"__ph_opt_in_out_phc_test": "1"}))
    assert len(sent(client, recorder, "$pageview")) == 1
