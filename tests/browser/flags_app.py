"""A small Starlette app for the flags browser test: one page rendering a flag's variant
and the snippet (posthog-js bootstrapped with the server's flags).

Run with ``uvicorn tests.browser.flags_app:app``; ``FLAGS_HOST`` is the flags stand-in
(definitions, events), ``POSTHOG_JS_DIST`` posthog-js's dist/ folder and
``EXAMPLE_POSTHOG_JS_OPTIONS`` more ``posthog.init`` options (JSON).
"""

from __future__ import annotations

import html
import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.web.snippet import posthog_snippet
from tests.flags.server import SECRET, TOKEN

HOST = os.environ["FLAGS_HOST"]
client = Client(TOKEN, host=HOST, flags_secret_key=SECRET, flags_timeout=2.0)
client.flags.definitions(wait=5)  # loaded before the first request


async def page(request: Request) -> HTMLResponse:
    helper = request.state.posthog
    variant = await helper.aget_feature_flag("checkout-test")
    payload = await helper.aget_feature_flag_payload("checkout-test")
    return HTMLResponse(
        f"<!doctype html><html><head><title>Checkout</title>{posthog_snippet(request)}</head>"
        f'<body><p id="variant">{html.escape(str(variant))}</p>'
        f'<p id="payload">{html.escape(json.dumps(payload))}</p>'
        f'<p id="distinct-id">{html.escape(helper.distinct_id)}</p></body></html>'
    )


app = PostHogMiddleware(
    Starlette(
        routes=[
            Route("/", page),
            Mount("/static/posthog-js", StaticFiles(directory=os.environ["POSTHOG_JS_DIST"])),
        ]
    ),
    client=client,
    secret_key="browser-test",
    posthog_js_src="/static/posthog-js/array.full.js",
    posthog_js_options=json.loads(os.environ.get("EXAMPLE_POSTHOG_JS_OPTIONS") or "{}"),
)
