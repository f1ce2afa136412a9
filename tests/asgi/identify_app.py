"""An app for the two-worker ``$identify`` test: ``uvicorn tests.asgi.identify_app:app``.

Its authentication logs the user in, with person properties, on every request (pages
and stylesheets), as a Datasette plugin or a FastAPI dependency does.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware

client = Client("phc_test", host=os.environ["POSTHOG_HOST"], flush_interval=0.05)


def _log_in(request: Request) -> None:
    request.state.posthog.login("ada", {"plan": request.query_params.get("plan", "free")})


async def page(request: Request) -> Response:
    _log_in(request)
    return HTMLResponse(f"<!doctype html><title>pid {os.getpid()}</title>")


async def stylesheet(request: Request) -> Response:
    _log_in(request)
    return PlainTextResponse("h1{}", media_type="text/css")


app = PostHogMiddleware(
    Starlette(routes=[Route("/style.css", stylesheet), Route("/{path:path}", page)]),
    client=client,
    secret_key="identify-test",
)
