"""Behind Django's full-page cache, two visitors never share an id (issue 13, item 6).

UpdateCacheMiddleware first and FetchFromCacheMiddleware last, as Django documents
them, with a real locmem cache: what one visitor's response holds must never reach
another visitor, and a bot's page (no cookie, no per-visitor bootstrap) may be cached.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from posthog_web.django import conf
from tests.django.conftest import Harness
from tests.django.helpers import BROWSER_UA, COOKIE

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.django.cache_urls")]

INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>")
CURL = "curl/8.5.0"


@pytest.fixture(autouse=True)
def full_page_cache(settings: Any) -> Any:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"}
    }
    settings.CACHE_MIDDLEWARE_SECONDS = 600
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    cache.clear()
    yield
    cache.clear()


def init_options(html: str) -> dict[str, Any]:
    match = INIT.search(html)
    assert match, html
    options: dict[str, Any] = json.loads(match.group(2))
    return options


def bootstrap_id(response: Any) -> str:
    return str(init_options(response.content.decode())["bootstrap"]["distinctID"])


def test_two_visitors_never_share_an_id(posthog: Harness) -> None:
    first, second = Client(HTTP_USER_AGENT=BROWSER_UA), Client(HTTP_USER_AGENT=BROWSER_UA)
    seen: dict[str, list[str]] = {"first": [], "second": []}
    for _ in range(3):
        for name, visitor in (("first", first), ("second", second)):
            response = visitor.get("/page/")
            seen[name].append(bootstrap_id(response))
            # The app's public policy gives way: no shared cache may store this page.
            assert response["Cache-Control"] == "private, max-age=600"
            assert "Cookie" in response["Vary"]
    assert len(set(seen["first"])) == len(set(seen["second"])) == 1
    assert seen["first"][0] != seen["second"][0]
    assert first.cookies[COOKIE].value.split(".")[1] == seen["first"][0]
    assert second.cookies[COOKIE].value.split(".")[1] == seen["second"][0]
    by_visitor = [e["distinct_id"] for e in posthog.pageviews()]
    assert sorted(by_visitor) == sorted(seen["first"] + seen["second"])


def test_a_bot_gets_no_cookie_and_no_per_visitor_id(posthog: Harness) -> None:
    bot = Client(HTTP_USER_AGENT=CURL)
    response = bot.get("/page/")
    assert COOKIE not in response.cookies
    assert "ph_web_session" not in response.cookies
    options = init_options(response.content.decode())
    assert "bootstrap" not in options  # posthog-js, the same for every bot
    assert options["capture_pageview"] is False
    # Nothing per visitor: the app's own cache policy stands, and the page is cached.
    assert response["Cache-Control"] == "public, max-age=600, s-maxage=600"
    assert "Cookie" not in response.get("Vary", "")
    again = Client(HTTP_USER_AGENT=CURL).get("/page/")
    assert again.content == response.content
    # A browser served that cached page gets its own cookie, and nobody's id.
    browser = Client(HTTP_USER_AGENT=BROWSER_UA).get("/page/")
    assert "bootstrap" not in init_options(browser.content.decode())
    assert browser["Cache-Control"] == "private, max-age=600"
    [event] = posthog.pageviews()
    assert event["distinct_id"] == browser.cookies[COOKIE].value.split(".")[1]
    tracker = conf.get_config().request_tracker()
    assert tracker is not None
    assert tracker.stats() == {"skipped": {"bot": 2}}


def test_an_excluded_path_gets_no_cookie_and_no_bootstrap(posthog: Harness) -> None:
    posthog.configure(EXCLUDE_PATHS=[r"^/hidden/"])
    visitor = Client(HTTP_USER_AGENT=BROWSER_UA)
    response = visitor.get("/hidden/page/")
    assert not response.cookies
    assert "bootstrap" not in init_options(response.content.decode())
    assert response["Cache-Control"] == "public, max-age=600, s-maxage=600"
    assert posthog.pageviews() == []
    tracker = conf.get_config().request_tracker()
    assert tracker is not None
    assert tracker.stats() == {"skipped": {"excluded_path": 1}}


def test_a_stricter_policy_is_kept(posthog: Harness) -> None:
    response = Client(HTTP_USER_AGENT=BROWSER_UA).get("/no-store/")
    assert response["Cache-Control"] == "no-store"
    assert response["Vary"] == "Cookie"
    assert "bootstrap" in init_options(response.content.decode())
