"""posthog_snippet as a Jinja2 global in a Starlette app, end to end through the middleware."""

from __future__ import annotations

import json
import re
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.inbox import InboxServer
from posthog_web.web.snippet import posthog_snippet
from tests.asgi.helpers import BROWSER, pageviews

INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>")


def init_options(html: str) -> dict[str, Any]:
    match = INIT.search(html)
    assert match, html
    options: dict[str, Any] = json.loads(match.group(2))
    return options


def app() -> Starlette:
    env = jinja2.Environment(autoescape=True)
    env.globals["posthog_snippet"] = posthog_snippet
    page = env.from_string("<head>{{ posthog_snippet(request) }}</head><p>{{ name }}</p>")

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page.render(request=request, name="<b>"))

    def sync_page(request: Request) -> HTMLResponse:
        # No argument: the current request (posthog_web.current()), in the thread pool too.
        return HTMLResponse(env.from_string("<head>{{ posthog_snippet() }}</head>").render())

    return Starlette(routes=[Route("/", home), Route("/sync", sync_page)])


def test_jinja2_global(client: Client, inbox: InboxServer) -> None:
    wrapped = PostHogMiddleware(app(), client=client, secret_key="s")
    with TestClient(wrapped, headers=BROWSER) as http:
        response = http.get("/")
        assert "<p>&lt;b&gt;</p>" in response.text  # the rest of the page is still escaped
        first = init_options(response.text)["bootstrap"]
        assert first["distinctID"] == http.cookies["ph_web_id"].split(".")[1]
        assert first["isIdentifiedID"] is False
        second = init_options(http.get("/sync").text)["bootstrap"]
    assert second == first
    views = pageviews(client, inbox)
    assert [v["properties"]["$session_id"] for v in views] == [first["sessionID"]] * 2
    assert {v["distinct_id"] for v in views} == {first["distinctID"]}
