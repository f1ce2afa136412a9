"""Feature flags in ASGI apps: request.state.posthog, the FastAPI dependency, current(),
the Jinja2 globals and the person_properties callable, through PostHogMiddleware.

The client fetches definitions from the flags stand-in on 127.0.0.1, which also receives
the events: what it received is what is checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jinja2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient as FastAPIClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.fastapi import PostHog
from posthog_web.web.snippet import posthog_snippet
from posthog_web.web.templates import FLAG_GLOBALS
from tests.asgi.helpers import BROWSER
from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.web.test_flags import CHECKOUT, CONTINUITY, NEEDS_EMAIL, OFF

COLORS = {"control": "grey", "test-a": "red", "test-b": "blue"}
HTML_BROWSER = {**BROWSER, "accept": "text/html"}


class User:
    is_authenticated = True

    def __init__(self, identity: str, email: str) -> None:
        self.identity = identity
        self.email = email


class HeaderAuth:
    """A plain ASGI auth middleware: ``x-user: <id>`` logs in ``<id>@corp.example``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or [])
        user = headers.get(b"x-user")
        if user:
            scope["user"] = User(user.decode(), f"{user.decode()}@corp.example")
        await self.app(scope, receive, send)


@pytest.fixture
def server() -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    server.definitions = {
        "flags": [CHECKOUT, NEEDS_EMAIL, CONTINUITY, OFF],
        "group_type_mapping": {},
        "cohorts": {},
    }
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(server: FlagsServer) -> Iterator[Client]:
    client = Client(
        TOKEN, host=server.url, sync_mode=True, flags_secret_key=SECRET, flags_timeout=1.0
    )
    client.flags.definitions(wait=5)
    yield client
    client.shutdown(timeout=1.0)


def events(server: FlagsServer, name: str) -> list[dict[str, Any]]:
    with server.lock:
        return [e for e in server.events if e["event"] == name]


def starlette_app() -> Starlette:
    env = jinja2.Environment(autoescape=True)
    env.globals["posthog_snippet"] = posthog_snippet
    env.globals.update(FLAG_GLOBALS)
    page = env.from_string(
        "<head>{{ posthog_snippet(request) }}</head>"
        '{% set variant = posthog_feature_flag(request, "checkout-test") %}'
        '<p id="variant">{{ variant }}</p>'
        '<p id="on">{{ posthog_feature_enabled(request, "checkout-test") }}</p>'
        '<p id="color">{{ posthog_feature_flag_payload(request, "checkout-test").color }}</p>'
    )

    async def home(request: Request) -> HTMLResponse:
        return HTMLResponse(page.render(request=request))

    def sync_flag(request: Request) -> JSONResponse:
        helper = request.state.posthog
        return JSONResponse({"corp": helper.feature_enabled("corp-only"), "id": helper.distinct_id})

    async def async_flag(request: Request) -> JSONResponse:
        helper = request.state.posthog
        return JSONResponse(
            {
                "variant": await helper.aget_feature_flag("checkout-test"),
                "payload": await helper.aget_feature_flag_payload("checkout-test"),
                "all": await helper.aget_all_flags(),
            }
        )

    return Starlette(
        routes=[Route("/", home), Route("/sync", sync_flag), Route("/async", async_flag)]
    )


def test_jinja_globals_and_the_bootstrap_give_the_same_variant(
    server: FlagsServer, client: Client
) -> None:
    app = PostHogMiddleware(starlette_app(), client=client, secret_key="s")
    with TestClient(app, headers=HTML_BROWSER) as http:
        html = http.get("/").text
    variant = re.search(r'<p id="variant">(.*?)</p>', html)[1]  # type: ignore[index]
    assert variant in COLORS
    assert '<p id="on">True</p>' in html
    assert f'<p id="color">{COLORS[variant]}</p>' in html
    init = re.search(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>", html)
    assert init is not None
    bootstrap = json.loads(init[2])["bootstrap"]
    assert bootstrap["featureFlags"]["checkout-test"] == variant
    (view,) = events(server, "$pageview")
    assert view["distinct_id"] == bootstrap["distinctID"]
    assert view["properties"]["$feature/checkout-test"] == variant
    assert view["properties"]["$active_feature_flags"] == ["checkout-test"]
    assert len(events(server, "$feature_flag_called")) == 1
    assert server.made("flags") == []


def test_person_properties_callable_and_sync_and_async_routes(
    server: FlagsServer, client: Client
) -> None:
    app = HeaderAuth(
        PostHogMiddleware(
            starlette_app(),
            client=client,
            secret_key="s",
            person_properties=lambda user: {"email": user.email},
        )
    )
    with TestClient(app, headers=BROWSER) as http:
        assert http.get("/sync", headers={"x-user": "ada"}).json() == {"corp": True, "id": "ada"}
        assert server.made("flags") == []  # decided locally from the user's email
        body = http.get("/async").json()
    assert body["variant"] in COLORS
    assert body["payload"] == {"color": COLORS[body["variant"]]}
    assert body["all"]["checkout-test"] == body["variant"]


def test_fastapi_dependency(server: FlagsServer, client: Client) -> None:
    api = FastAPI()

    @api.get("/flag")
    async def flag(posthog: PostHog) -> dict[str, Any]:
        return {
            "variant": await posthog.aget_feature_flag("checkout-test"),
            "id": posthog.distinct_id,
        }

    @api.get("/sync-flag")
    def sync_flag(posthog: PostHog) -> dict[str, Any]:
        return {"variant": posthog.get_feature_flag("checkout-test")}

    with FastAPIClient(
        PostHogMiddleware(api, client=client, secret_key="s"), headers=BROWSER
    ) as http:
        first = http.get("/flag").json()
        assert http.get("/sync-flag").json() == {"variant": first["variant"]}
    assert first["variant"] in COLORS
    (called,) = events(server, "$feature_flag_called")
    assert called["distinct_id"] == first["id"]


def test_a_bare_asgi_app_reads_flags_through_current(server: FlagsServer, client: Client) -> None:
    async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        helper = posthog_web.current()
        body = f"<!doctype html><title>x</title><p>{helper.get_feature_flag('checkout-test')}</p>"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html; charset=utf-8")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body.encode()})

    with TestClient(
        PostHogMiddleware(bare, client=client, secret_key="s"), headers=HTML_BROWSER
    ) as http:
        variant = re.search(r"<p>(.*)</p>", http.get("/").text)[1]  # type: ignore[index]
    assert variant in COLORS
    (view,) = events(server, "$pageview")
    assert view["properties"]["$feature/checkout-test"] == variant
