"""A request leaves nothing for the cycle collector: everything is freed as it ends.

Per-request reference cycles make the collector run every few dozen requests, and now
and then over the whole heap: milliseconds of latency at the 99th percentile.
"""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from tests.asgi.helpers import Message, http_scope


async def page(request: Request) -> Response:
    return HTMLResponse("<h1>page</h1>")


async def buy(request: Request) -> Response:
    request.state.posthog.capture("bought", {"sku": "mug"})
    return JSONResponse({"distinct_id": request.state.posthog.distinct_id})


APP = Starlette(routes=[Route("/", page), Route("/buy", buy, methods=["POST"])])
_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


async def _serve(app: Any, scopes: list[dict[str, Any]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return _REQUEST

    async def send(message: Message) -> None:
        sent.append(message)

    for scope in scopes:
        await app(dict(scope, state={}), receive, send)
    return sent


def test_requests_leave_no_cyclic_garbage() -> None:
    client = Client("phc_test", host="http://127.0.0.1:9")
    events: list[dict[str, Any]] = []
    client.enqueue = events.append  # type: ignore[assignment,method-assign]
    app = PostHogMiddleware(APP, client=client, secret_key="s")
    returning = [(b"host", b"example.com"), (b"cookie", b"theme=dark")]
    scopes = [
        http_scope("/"),  # a first visit: id and session minted, cookies set
        http_scope("/", headers=returning),
        http_scope("/buy", method="POST", headers=returning),
        http_scope("/missing"),
    ]

    async def main() -> tuple[int, list[Message]]:
        await _serve(app, scopes)  # warm-up: imports, caches
        gc.collect()
        gc.disable()
        try:
            sent = await _serve(app, scopes * 10)
            return gc.collect(), sent
        finally:
            gc.enable()

    garbage, sent = asyncio.run(main())
    assert garbage == 0
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert statuses == [200, 200, 200, 404] * 10
    names = [e["event"] for e in events]
    assert names.count("$pageview") == 2 * 11
    assert names.count("bought") == 11
