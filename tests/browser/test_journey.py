"""One visitor in headless Chromium: posthog-js and the server agree on person and session.

Each example app runs in its own process and serves its own copy of posthog-js (npm);
the page's snippet bootstraps posthog-js with the server's ids, and both send to the
local inbox. The journey: three anonymous page views (the first from a UTM link) and an
anonymous custom event from the browser, the login page and a login, two more page views,
a custom event from the browser and one from the server (the Buy button). Then, at the
inbox: one distinct id before the login and the user's after, for browser and server
events alike; one UUIDv7 ``$session_id`` for everything; the anonymous id merged into the
user; each page view counted once.

Then the logout (issue 13 item 4): a form POST whose response is a redirect, so no page
with posthog-js sees it, then two pages with the snippet. After it: a new anonymous id
and a new session on both sides, and nothing of the user left in posthog-js (no
person-processing flag, no initial person info, no person made from the new id).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web.events import is_uuid7
from posthog_web.inbox import InboxServer
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, App

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("browser_dependencies")]

# A normal desktop browser: HeadlessChrome is a bot to the server's filter (as it should be).
DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
# posthog-js sees navigator.webdriver and drops everything unless told otherwise;
# request_batching off sends each event at once, so the test need not wait for a flush.
POSTHOG_JS_OPTIONS = {
    "opt_out_useragent_filter": True,
    "request_batching": False,
    "disable_session_recording": True,
    "disable_surveys": True,
}
UTM = "utm_source=newsletter&utm_medium=email&utm_campaign=spring"
TIMEOUT_MS = 15_000


@pytest.fixture
def inbox_url(inbox: InboxServer) -> str:
    return inbox.url


@pytest.fixture
def browser_options() -> str:
    return json.dumps(POSTHOG_JS_OPTIONS)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _when(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))


def _loaded(page: Any, titles: list[str]) -> None:
    # posthog-js replaces the snippet's queue with itself once it has loaded and run init.
    page.wait_for_function("window.posthog && window.posthog.__loaded === true")
    titles.append(page.evaluate("document.title"))  # what posthog-js sends as title


def journey(
    chromium: Any, app: App, inbox: InboxServer
) -> tuple[dt.datetime, dt.datetime, list[str], list[str]]:
    """Walk the journey; when the login and the logout forms were sent, the browser
    console, and the document.title of each page before the logout."""
    context = chromium.new_context(user_agent=DESKTOP_UA)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    titles: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    paths = app.paths
    try:
        page.goto(f"{app.url}{paths['home']}?{UTM}")
        _loaded(page, titles)
        page.click(f"nav a[href='{paths['pricing']}']")
        page.wait_for_url(f"**{paths['pricing']}")
        _loaded(page, titles)
        page.goto(f"{app.url}{paths['product']}")
        _loaded(page, titles)
        # An anonymous event from the browser; it also gives posthog-js's cookie its $sesid.
        page.evaluate("posthog.capture('size_chart_opened', {product_id: 1})")
        # A script's fetch() of a whole HTML page (Sec-Fetch-Dest: empty) is no page view.
        fetched = page.evaluate(f"fetch('{paths['pricing']}?via=plain-fetch').then(r => r.status)")
        assert fetched == 200
        inbox.wait_for_events(1, timeout=15, event="size_chart_opened")
        page.click(f"a[href='{paths['login']}']")
        page.wait_for_url(f"**{paths['login']}")
        _loaded(page, titles)
        page.fill("input[name=username]", "demo")
        page.fill("input[name=password]", "demo-password")
        login_started = _now()
        page.press("input[name=password]", "Enter")
        page.wait_for_url(f"**{paths['dashboard']}")
        _loaded(page, titles)
        page.goto(f"{app.url}{paths['product']}")
        _loaded(page, titles)
        page.evaluate("posthog.capture('wishlist_added', {product_id: 1})")
        page.click("button:has-text('Buy')")
        page.wait_for_url("**bought*")
        _loaded(page, titles)
        inbox.wait_for_events(1, timeout=15, event="purchase_completed")
        logout_started = _now()
        page.click("button:has-text('Log out')")
        page.wait_for_url(f"{app.url}{paths['home']}")
        after_logout_titles: list[str] = []
        _loaded(page, after_logout_titles)
        page.evaluate("posthog.capture('browsed_after_logout')")
        inbox.wait_for_events(1, timeout=15, event="browsed_after_logout")
        page.goto(f"{app.url}{paths['pricing']}")
        _loaded(page, after_logout_titles)
    finally:
        context.close()
    return login_started, logout_started, console, titles


@pytest.mark.parametrize("example_app", ["django", "starlette"], indirect=True)
def test_browser_and_server_share_person_and_session(
    chromium: Any, example_app: App, inbox: InboxServer
) -> None:
    app = example_app
    login_started, logout_started, console, titles = journey(chromium, app, inbox)
    assert not [line for line in console if "dropped" in line], console
    inbox.wait_for_events(1, timeout=15, event="wishlist_added")
    inbox.wait_for_events(9, timeout=15, event="$pageview")
    everything = inbox.events()
    events = [e for e in everything if _when(e) < logout_started]
    after_logout = [e for e in everything if _when(e) >= logout_started]
    server = [e for e in events if e["properties"].get("$lib") == "posthog-web"]
    browser = [e for e in events if e["properties"].get("$lib") == "web"]
    assert len(server) + len(browser) == len(events), {e["properties"].get("$lib") for e in events}
    assert browser, "posthog-js sent nothing"

    # Every page load is one page view, recorded by the server; posthog-js records none.
    views = [e for e in events if e["event"] == "$pageview"]
    paths = app.paths
    assert [v["properties"]["$pathname"] for v in views] == [
        paths["home"],
        paths["pricing"],
        paths["product"],
        paths["login"],
        paths["dashboard"],
        paths["product"],
        paths["product"],
    ], app.output()
    assert all(v["properties"]["$lib"] == "posthog-web" for v in views)
    # title means what posthog-js means: the page's document.title.
    assert [v["properties"].get("title") for v in views] == titles
    assert all(titles), titles
    assert len({v["properties"]["$pageview_id"] for v in views}) == len(views)
    first = views[0]["properties"]
    assert first["utm_source"] == "newsletter"
    assert first["utm_campaign"] == "spring"
    assert first["$browser"] == "Chrome"
    assert first["$device_type"] == "Desktop"
    assert first["$referrer"] == "$direct"
    assert views[1]["properties"]["$referring_domain"] == app.url.removeprefix("http://")

    # One person: the anonymous id before the login, the user's id after, both sides.
    anon_id = views[0]["distinct_id"]
    assert is_uuid7(anon_id)
    assert views[-1]["distinct_id"] == app.user_id
    for event in events:
        expected = anon_id if _when(event) < login_started else app.user_id
        assert event["distinct_id"] == expected, (event["event"], event["properties"]["$lib"])
    [opened] = inbox.events("size_chart_opened")
    [wishlist] = inbox.events("wishlist_added")
    [purchase] = inbox.events("purchase_completed")
    assert opened["properties"]["$lib"] == wishlist["properties"]["$lib"] == "web"
    assert opened["distinct_id"] == anon_id
    assert wishlist["distinct_id"] == purchase["distinct_id"] == app.user_id
    [alias] = inbox.events("$create_alias")
    assert alias["properties"]["alias"] == anon_id
    assert alias["distinct_id"] == app.user_id
    people = [p for p in inbox.persons() if anon_id in p["distinct_ids"]]
    assert len(people) == 1
    assert app.user_id in people[0]["distinct_ids"]
    assert people[0]["is_identified"]

    # One session for all of it, a UUIDv7 that started no later than the first event.
    session_ids = {e["properties"].get("$session_id") for e in events}
    assert len(session_ids) == 1, {(e["event"], e["properties"].get("$session_id")) for e in events}
    [session_id] = session_ids
    assert is_uuid7(session_id)
    session = next(s for s in inbox.sessions() if s["session_id"] == session_id)
    assert session["valid_uuid7"]
    assert session["pageviews"] == len(views)

    # After the logout: a new visitor, a new session, nothing of the user carried over.
    new_id = after_logout[0]["distinct_id"]
    assert is_uuid7(new_id)
    assert new_id not in (anon_id, app.user_id)
    assert {e["distinct_id"] for e in after_logout} == {new_id}, [
        (e["event"], e["properties"]["$lib"], e["distinct_id"]) for e in after_logout
    ]
    new_views = [v for v in after_logout if v["event"] == "$pageview"]
    assert [v["properties"]["$pathname"] for v in new_views] == [paths["home"], paths["pricing"]]
    [browsed] = inbox.events("browsed_after_logout")
    assert browsed["properties"]["$lib"] == "web"
    # posthog-js did not keep the user's "process persons" flag or initial person info.
    for event in after_logout:
        assert event["properties"]["$process_person_profile"] is False, event["event"]
        assert "$set_once" not in event, event
        assert "$set" not in event, event
    assert not [p for p in inbox.persons() if new_id in p["distinct_ids"]]
    new_sessions = {e["properties"].get("$session_id") for e in after_logout}
    assert len(new_sessions) == 1, new_sessions
    [new_session] = new_sessions
    assert is_uuid7(new_session)
    assert new_session != session_id
