"""A plain ASGI app (not Starlette) behind the middleware: what shared caches may store.

Issue 13, item 6: a bot gets no cookie and no per-visitor bootstrap (the app's cache
policy stands); a page carrying a new cookie or a bootstrap becomes private.
"""

from __future__ import annotations

import json
import re
from typing import Any

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.inbox import InboxServer
from posthog_web.web.snippet import posthog_snippet
from tests.asgi.helpers import BROWSER_UA, call, http_scope, pageviews, run, set_cookies

INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>")
APP_HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"public, max-age=300"),
    (b"vary", b"Accept-Encoding"),
    (b"x-app", b"1"),
]


async def plain_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = f"<head>{posthog_snippet()}</head><p>hello</p>".encode()
    await send({"type": "http.response.start", "status": 200, "headers": list(APP_HEADERS)})
    await send({"type": "http.response.body", "body": body})


def get(middleware: PostHogMiddleware, user_agent: str, path: str = "/") -> list[Any]:
    scope = http_scope(path)
    scope["headers"] = [(b"host", b"example.com"), (b"user-agent", user_agent.encode())]
    messages: list[Any] = run(call(middleware, scope))
    return messages


def options_of(messages: list[Any]) -> dict[str, Any]:
    match = INIT.search(messages[1]["body"].decode())
    assert match
    options: dict[str, Any] = json.loads(match.group(2))
    return options


def test_a_bot_gets_the_app_s_headers_unchanged(client: Client, inbox: InboxServer) -> None:
    middleware = PostHogMiddleware(plain_app, client=client, secret_key="s")
    messages = get(middleware, "Googlebot/2.1 (+http://www.google.com/bot.html)")
    assert messages[0]["headers"] == APP_HEADERS  # no Set-Cookie, nothing marked
    assert "bootstrap" not in options_of(messages)
    assert middleware.tracker is not None
    assert middleware.tracker.stats() == {"skipped": {"bot": 1}}


def test_a_page_with_a_new_cookie_is_private(client: Client, inbox: InboxServer) -> None:
    middleware = PostHogMiddleware(plain_app, client=client, secret_key="s")
    messages = get(middleware, BROWSER_UA)
    headers = messages[0]["headers"]
    # In place, the app's order kept; s-maxage/public gone, max-age kept.
    assert headers[:4] == [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"private, max-age=300"),
        (b"vary", b"Accept-Encoding, Cookie"),
        (b"x-app", b"1"),
    ]
    assert [c.split("=")[0] for c in set_cookies(messages)] == ["ph_web_id", "ph_web_session"]
    bootstrap = options_of(messages)["bootstrap"]
    [view] = pageviews(client, inbox)
    assert view["distinct_id"] == bootstrap["distinctID"]


def test_an_excluded_path_is_left_alone(client: Client, inbox: InboxServer) -> None:
    middleware = PostHogMiddleware(
        plain_app, client=client, secret_key="s", exclude_paths=[r"^/embed/"]
    )
    messages = get(middleware, BROWSER_UA, "/embed/widget")
    assert messages[0]["headers"] == APP_HEADERS
    assert "bootstrap" not in options_of(messages)
    assert pageviews(client, inbox) == []
