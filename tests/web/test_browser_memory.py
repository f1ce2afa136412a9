"""What the signed cookie remembers per browser (issue 13 items 4, 5, 7).

The remembered user and the identify tag (version 2 of the anonymous cookie), and the
posthog-js reset the snippet asks for when posthog-js holds a visitor the server retired.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.events import MAX_DISTINCT_ID_LENGTH, uuid7
from posthog_web.web.context import RequestContext
from posthog_web.web.identity import AnonymousCookie, CookieSigner
from posthog_web.web.snippet import render_snippet
from posthog_web.web.tracker import Tracker
from tests.web.test_tracker import HTML, make_request, sent, tracker_for

JS_COOKIE = "ph_phc_test_posthog"


def js_cookie(distinct_id: str, *, identified: bool, session_id: str | None = None) -> str:
    data: dict[str, Any] = {
        "distinct_id": distinct_id,
        "$user_state": "identified" if identified else "anonymous",
    }
    if session_id is not None:
        now = time.time_ns() // 1_000_000
        data["$sesid"] = [now, session_id, now]
    return quote(json.dumps(data), safe="")


def cookies_after(tracker: Tracker, ctx: RequestContext, jar: dict[str, str]) -> dict[str, str]:
    for cookie in tracker.response_cookies(ctx):
        jar[cookie.name] = cookie.value
    return jar


@pytest.mark.parametrize("user", ["ada", "a.b.c", "ünï", "ü" * MAX_DISTINCT_ID_LENGTH])
def test_the_remembered_user_and_identify_tag_round_trip(user: str) -> None:
    signer = CookieSigner("secret")
    cookie = AnonymousCookie(
        uuid7(), "A" * 11, "B" * 11, ("C" * 11,) * 4, user, signer.identify_tag(user, b"d")
    )
    raw = signer.dumps(cookie)
    assert raw.startswith("2.")
    assert len(raw) < 1400  # far below the 4096 bytes browsers keep per cookie
    assert signer.loads(raw) == cookie
    assert CookieSigner("other").loads(raw) is None
    body, _, sig = raw.rpartition(".")
    parts = body.split(".")
    parts[5] = "Z3JhY2U"  # "grace"
    assert signer.loads(".".join(parts) + "." + sig) is None


def test_a_cookie_without_either_stays_version_1() -> None:
    # Version 1 is what earlier releases read, e.g. during a rolling deploy.
    signer = CookieSigner("secret")
    cookie = signer.new()
    assert signer.dumps(cookie).startswith("1.")
    assert signer.loads(signer.dumps(cookie)) == cookie


def test_the_identify_tag_binds_user_and_properties() -> None:
    signer = CookieSigner("secret")
    tags = {
        signer.identify_tag("ada", b"1"),
        signer.identify_tag("ada", b"2"),
        signer.identify_tag("bob", b"1"),
    }
    assert len(tags) == 3


def test_two_trackers_sharing_only_cookies_identify_once(
    client: Client, recorder: RecorderTransport
) -> None:
    workers = [tracker_for(client), tracker_for(client)]
    jar: dict[str, str] = {}
    for n, props in enumerate([{"plan": "free"}] * 4 + [{"plan": "pro"}] * 3):
        tracker = workers[n % 2]
        ctx = tracker.start(make_request(cookies=dict(jar)))
        tracker.set_user(ctx, "ada", props)
        tracker.finish(ctx, HTML)
        cookies_after(tracker, ctx, jar)
    assert [e["$set"]["plan"] for e in sent(client, recorder, "$identify")] == ["free", "pro"]


def _logged_out_browser(tracker: Tracker, old_session: str) -> dict[str, str]:
    """A browser whose posthog-js holds user "ada"; the logout ran on a page without it."""
    jar = {JS_COOKIE: js_cookie("ada", identified=True, session_id=old_session)}
    ctx = tracker.start(make_request(cookies=dict(jar)))
    tracker.set_user(ctx, "ada")
    assert tracker.posthog_js(ctx).reset is False  # type: ignore[union-attr]
    ctx = tracker.start(make_request("/logout", cookies=dict(jar)))
    tracker.logout(ctx)
    return cookies_after(tracker, ctx, jar)


def test_the_next_snippet_resets_posthog_js_after_a_logout(client: Client) -> None:
    tracker = tracker_for(client)
    old_session = uuid7()
    jar = _logged_out_browser(tracker, old_session)
    ctx = tracker.start(make_request(cookies=dict(jar)))
    config = tracker.posthog_js(ctx)
    assert config is not None
    assert config.reset
    bootstrap = config.options["bootstrap"]
    assert bootstrap["distinctID"] not in ("ada", None)
    assert bootstrap["isIdentifiedID"] is False
    # The retired posthog-js session is not continued either.
    assert bootstrap["sessionID"] not in (old_session, None)
    html = render_snippet(config)
    assert html.index("Max-Age=0") < html.index("posthog.init(")
    assert '"ph_phc_test_posthog","ph_phc_test_"' in html


def test_no_reset_while_posthog_js_holds_the_servers_visitor(client: Client) -> None:
    tracker = tracker_for(client)
    anon = uuid7()
    ctx = tracker.start(make_request(cookies={JS_COOKIE: js_cookie(anon, identified=False)}))
    config = tracker.posthog_js(ctx)
    assert config is not None
    assert not config.reset
    assert "Max-Age=0" not in render_snippet(config)
    ctx = tracker.start(make_request(cookies={JS_COOKIE: js_cookie("ada", identified=True)}))
    tracker.set_user(ctx, "ada")
    assert not tracker.posthog_js(ctx).reset  # type: ignore[union-attr]


def test_reset_when_posthog_js_identified_someone_else(client: Client) -> None:
    tracker = tracker_for(client)
    ctx = tracker.start(make_request(cookies={JS_COOKIE: js_cookie("ada", identified=True)}))
    tracker.set_user(ctx, "bob")
    config = tracker.posthog_js(ctx)
    assert config is not None
    assert config.reset
    assert config.options["bootstrap"]["distinctID"] == "bob"


def test_a_remembered_user_needs_login_and_ends_with_logout(client: Client) -> None:
    tracker = tracker_for(client)
    jar: dict[str, str] = {}
    ctx = tracker.start(make_request(cookies=dict(jar)))
    tracker.login(ctx, "ada", None)
    cookies_after(tracker, ctx, jar)
    ctx = tracker.start(make_request(cookies=dict(jar)))
    assert ctx.helper.distinct_id == "ada"
    assert ctx.helper.is_identified
    tracker.set_user(ctx, "bob")  # a framework user wins
    assert ctx.helper.distinct_id == "bob"
    assert tracker.response_cookies(ctx) == []  # ...without rewriting the cookie
    # A framework that knows the request is anonymous (an auth middleware) decides too.
    ctx = tracker.start(make_request(cookies=dict(jar)))
    tracker.set_user(ctx, None)
    assert not ctx.helper.is_identified
    assert ctx.helper.distinct_id != "ada"
    assert tracker.response_cookies(ctx) == []  # the remembered user stays for later
    ctx = tracker.start(make_request(cookies=dict(jar)))
    assert ctx.helper.distinct_id == "ada"
    ctx = tracker.start(make_request(cookies=dict(jar)))
    tracker.logout(ctx)
    cookies_after(tracker, ctx, jar)
    ctx = tracker.start(make_request(cookies=dict(jar)))
    assert ctx.helper.distinct_id != "ada"
    assert not ctx.helper.is_identified


def test_an_unsigned_cookie_never_remembers_a_user(client: Client) -> None:
    tracker = Tracker(client)  # no cookie_secret: anyone could write the cookie
    jar: dict[str, str] = {}
    ctx = tracker.start(make_request())
    tracker.login(ctx, "ada", None)
    cookies_after(tracker, ctx, jar)
    forged = CookieSigner(None)
    own = forged.loads(jar.get("ph_web_id"))
    assert own is None or own.user == ""
    jar["ph_web_id"] = forged.dumps(AnonymousCookie(uuid7(), user="ada"))
    ctx = tracker.start(make_request(cookies=dict(jar)))
    assert ctx.helper.distinct_id != "ada"
