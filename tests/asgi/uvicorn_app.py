"""An app for the real-uvicorn test: ``uvicorn tests.asgi.uvicorn_app:app``.

Its client never sends on its own (no timer, no batch size reached) and the process
ends with ``os._exit`` right after uvicorn got the lifespan acknowledgement, so no
exit hook runs: an event that reaches the inbox was sent by the lifespan flush.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware

client = Client(
    "phc_test",
    host=os.environ["POSTHOG_HOST"],
    flush_interval=3600,
    flush_at=1000,
    exit_flush_timeout=0,
)


async def home(request: Request) -> HTMLResponse:
    request.state.posthog.capture("home_served")
    return HTMLResponse("<!doctype html><h1>served by uvicorn</h1>")


inner = PostHogMiddleware(
    Starlette(routes=[Route("/", home)]), client=client, secret_key="uvicorn-test"
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "lifespan":
        await inner(scope, receive, send)
        return

    async def exit_after_acknowledgement(message: dict[str, Any]) -> None:
        await send(message)
        if message["type"] == "lifespan.shutdown.complete":
            os._exit(0)

    await inner(scope, receive, exit_after_acknowledgement)
