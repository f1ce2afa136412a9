"""The Starlette and FastAPI apps the tests drive through the real middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import BackgroundTasks, Depends, FastAPI
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.fastapi import PostHog

PAGE = "<!doctype html><title>t</title><h1>page</h1>"


class Boom(Exception):
    """Raised by the /boom endpoint."""


class HeaderBackend(AuthenticationBackend):
    """Authenticates ``X-User: <name>`` (a stand-in for a session or token backend)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        name = conn.headers.get("x-user")
        if not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


async def home(request: Request) -> Response:
    return HTMLResponse(PAGE)


def sync_page(request: Request) -> Response:
    # A sync endpoint runs in the thread pool: current() must still be this request's.
    helper = posthog_web.current()
    assert helper is request.state.posthog
    helper.capture("sync_endpoint")
    return HTMLResponse(PAGE)


async def whoami(request: Request) -> Response:
    helper = request.state.posthog
    assert request.scope["posthog_web"] is helper
    assert posthog_web.current() is helper
    return JSONResponse({"distinct_id": helper.distinct_id, "identified": helper.is_identified})


async def capture(request: Request) -> Response:
    request.state.posthog.capture("button_clicked", {"color": "blue"})
    return JSONResponse({"ok": True})


async def login(request: Request) -> Response:
    user = request.query_params.get("user", "user-1")
    request.state.posthog.login(user, {"email": f"{user}@example.com"})
    return HTMLResponse(PAGE)


async def logout(request: Request) -> Response:
    request.state.posthog.logout()
    return HTMLResponse(PAGE)


async def named_page(request: Request) -> Response:
    request.state.posthog.page("Named", {"section": "docs"})
    return JSONResponse({"ok": True})


async def item(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"<!doctype html><h1>"
        yield b"streamed</h1>"

    return StreamingResponse(chunks(), media_type="text/html")


async def boom(request: Request) -> Response:
    raise Boom("the app failed")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    assert "posthog_web" not in websocket.scope
    text = await websocket.receive_text()
    await websocket.send_text(f"echo {text}")
    await websocket.close()


def _status(code: int, body: str = PAGE) -> Any:
    async def endpoint(request: Request) -> Response:
        return HTMLResponse(body, status_code=code)

    return endpoint


ROUTES = [
    Route("/", home),
    Route("/sync", sync_page),
    Route("/whoami", whoami),
    Route("/capture", capture, methods=["GET", "POST"]),
    Route("/login", login),
    Route("/logout", logout),
    Route("/named", named_page),
    Route("/items/{item_id:int}", item),
    Route("/stream", stream),
    Route("/boom", boom),
    Route("/form", home, methods=["GET", "POST"]),
    Route("/json", lambda request: JSONResponse({"a": 1})),
    Route("/text", lambda request: PlainTextResponse("hello")),
    Route("/missing", _status(404)),
    Route("/error", _status(500)),
    Route("/redirect", lambda request: RedirectResponse("/", status_code=302)),
    Route("/health", home),
    Route("/robots.txt", home),
    Route("/static/app.html", home),
    Route("/private/page", home),
    Route("/docs/page", home),
    Mount("/admin", routes=[Route("/users/{user_id}", item)]),
    WebSocketRoute("/ws", echo),
]


def starlette_app(client: Client, *, auth: str | None = None, **options: Any) -> Starlette:
    """The test app; ``auth="inside"`` puts AuthenticationMiddleware inside PostHog's."""
    posthog = Middleware(PostHogMiddleware, client=client, secret_key="test-secret", **options)
    authentication = Middleware(AuthenticationMiddleware, backend=HeaderBackend())
    if auth is None:
        middleware = [posthog]
    elif auth == "outside":
        middleware = [authentication, posthog]
    else:
        middleware = [posthog, authentication]
    return Starlette(routes=ROUTES, middleware=middleware)


def fastapi_app(client: Client, **options: Any) -> FastAPI:
    """A FastAPI app whose endpoints and dependencies use the ``PostHog`` dependency."""
    app = FastAPI()
    app.add_middleware(PostHogMiddleware, client=client, secret_key="test-secret", **options)

    def current_user(request: Request, posthog: PostHog) -> str | None:
        user = request.headers.get("x-user")
        if user:
            posthog.login(user)
        # A dependency (sync: run in the thread pool) sees the same helper.
        assert posthog_web.current() is posthog
        return user

    @app.get("/", response_class=HTMLResponse)
    async def home(user: str | None = Depends(current_user)) -> str:
        return PAGE

    @app.get("/sync", response_class=HTMLResponse)
    def sync(posthog: PostHog) -> str:
        assert posthog_web.current() is posthog
        posthog.capture("sync_endpoint")
        return PAGE

    @app.post("/buy")
    def buy(posthog: PostHog, user: str | None = Depends(current_user)) -> dict[str, Any]:
        posthog.capture("purchase_completed", {"amount": 49})
        return {"distinct_id": posthog.distinct_id}

    @app.get("/background")
    async def background(tasks: BackgroundTasks, posthog: PostHog) -> dict[str, str]:
        def later() -> None:
            # Runs after the response was sent, still inside the request.
            posthog_web.current().capture("background_done")

        tasks.add_task(later)
        return {"distinct_id": posthog.distinct_id}

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    async def read_item(item_id: int) -> str:
        return PAGE

    return app
