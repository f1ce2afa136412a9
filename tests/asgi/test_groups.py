"""Groups through the ASGI middleware (Starlette, FastAPI, a bare app) and beyond the request."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.testclient import TestClient

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER, sent

PAGE = "<!doctype html><html><head><title>t</title></head><body>ok</body></html>"


def _app(client: Client, seen: list[Any]) -> FastAPI:
    app = FastAPI()

    def groups(request: Any) -> dict[str, str]:
        seen.append(request)
        return {"workspace": request.path_params.get("slug", "none")}

    app.add_middleware(PostHogMiddleware, client=client, groups=groups)
    tasks: set[asyncio.Task[None]] = set()

    async def later() -> None:
        posthog_web.current().capture("asyncio task done")

    def in_thread() -> None:
        posthog_web.current().capture("thread done")

    def background() -> None:
        posthog_web.current().capture("background task done")

    @app.get("/w/{slug}", response_class=HTMLResponse)
    async def workspace(slug: str, request: Request, bg: BackgroundTasks) -> str:
        request.state.posthog.group("company", "acme", {"name": "Acme"})
        task = asyncio.create_task(later())
        tasks.add(task)
        await task
        with ThreadPoolExecutor(1) as pool:
            pool.submit(posthog_web.with_current(in_thread)).result(timeout=10)
        bg.add_task(background)
        return PAGE

    @app.get("/api")
    async def api() -> JSONResponse:
        return JSONResponse({})

    return app


def test_fastapi_groups_reach_tasks_threads_and_background(
    client: Client, inbox: InboxServer
) -> None:
    seen: list[Any] = []
    with TestClient(_app(client, seen), headers=BROWSER) as http:
        http.get("/w/docs")
        http.get("/api")  # no event: the callable is not called
    events = {e["event"]: e for e in sent(client, inbox)}
    both = {"company": "acme", "workspace": "docs"}
    for name in ("$pageview", "asyncio task done", "thread done", "background task done"):
        assert events[name]["properties"]["$groups"] == both, name
        assert events[name]["distinct_id"] == events["$pageview"]["distinct_id"]
        assert (
            events[name]["properties"]["$session_id"]
            == (events["$pageview"]["properties"]["$session_id"])
        )
    assert len(seen) == 1  # once per request, only when an event needed them
    assert type(seen[0]).__name__ == "Request"
    assert events["$groupidentify"]["distinct_id"] == "$company_acme"


def test_a_plain_asgi_app_gets_the_scope(client: Client, inbox: InboxServer) -> None:
    given: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html")],
            }
        )
        await send({"type": "http.response.body", "body": PAGE.encode()})

    def groups(scope: Any) -> dict[str, str]:
        given.append(scope)
        return {"company": scope["path"].strip("/")}

    wrapped = PostHogMiddleware(app, client=client, groups=groups)
    TestClient(wrapped, headers=BROWSER).get("/acme")  # no lifespan: a bare app
    view = sent(client, inbox, "$pageview")[0]
    assert view["properties"]["$groups"] == {"company": "acme"}
    assert isinstance(given[0], dict)


def test_groups_must_be_callable() -> None:
    import pytest

    with pytest.raises(TypeError, match="groups must be a callable"):
        PostHogMiddleware(lambda *a: None, client=None, groups="x")  # type: ignore[arg-type]
