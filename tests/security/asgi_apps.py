"""The Starlette app and the bare ASGI app the security tests drive through the middleware."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware

HTML = "<!doctype html><title>t</title><p>the app's own page</p>"
SECRET_KEY = "security-tests-secret"


class HeaderBackend(AuthenticationBackend):
    """``X-User: <name>`` authenticates (a stand-in for a session backend)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-user")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


def _page() -> Response:
    return HTMLResponse(HTML, headers={"X-App": "unchanged"})


async def page(request: Request) -> Response:
    posthog_web.current().capture("viewed", {"kind": "starlette"})
    return _page()


async def form(request: Request) -> Response:
    body = await request.body()  # read, as a form handler would; never sent
    posthog_web.current().capture("form_sent", {"bytes": len(body)})
    return _page()


async def sign_in(request: Request) -> Response:
    posthog_web.current().login(request.query_params.get("user", "user-1"))
    return _page()


async def sign_out(request: Request) -> Response:
    posthog_web.current().logout()
    return _page()


ROUTES = [
    Route("/login", sign_in),
    Route("/logout", sign_out),
    Route("/form", form, methods=["POST"]),
    Route("/{rest:path}", page, methods=["GET", "POST"]),
]


def starlette_app(client: Client | None, **options: Any) -> Starlette:
    """Auth inside PostHog's middleware, so ``scope["user"]`` appears while it runs.

    Without a client, the same app without PostHog at all (the baseline).
    """
    middleware = [Middleware(AuthenticationMiddleware, backend=HeaderBackend())]
    if client is not None:
        posthog = Middleware(PostHogMiddleware, client=client, secret_key=SECRET_KEY, **options)
        middleware.insert(0, posthog)
    return Starlette(routes=ROUTES, middleware=middleware)


BARE_HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"x-app", b"unchanged")]
BARE_BODY = HTML.encode()


async def bare_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app with no framework at all."""
    assert scope["type"] == "http"
    while (await receive()).get("more_body"):
        pass
    posthog_web.current().capture("viewed", {"kind": "bare"})
    await send({"type": "http.response.start", "status": 200, "headers": list(BARE_HEADERS)})
    await send({"type": "http.response.body", "body": BARE_BODY})


def bare(client: Client, **options: Any) -> PostHogMiddleware:
    return PostHogMiddleware(bare_app, client=client, secret_key=SECRET_KEY, **options)
