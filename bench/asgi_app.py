"""The Starlette app of the in-process benchmark and its middleware variants.

Small and stable on purpose: a product page, a JSON route and an internal page, so
the middleware's cost is not lost in the app's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from bench import lower_bound, scenarios
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware

PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Hedgehog mug</title></head>"
    "<body><nav><a href='/'>Home</a> · <a href='/pricing'>Pricing</a></nav>"
    "<h1>Hedgehog mug</h1><p>12.00 €</p>"
    + "<p>A mug with a hedgehog on it.</p>" * 20
    + "</body></html>"
)
ITEMS = {"items": [{"id": i, "name": f"Product {i}", "price": 10 + i} for i in range(10)]}


async def product(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def products_api(request: Request) -> Response:
    return JSONResponse(ITEMS)


async def internal_status(request: Request) -> Response:
    return HTMLResponse("<p>ok</p>")


ROUTES = [
    Route("/products/{product_id:int}", product, name="product"),
    Route("/api/products", products_api, name="products_api"),
    Route("/internal/status", internal_status, name="internal_status"),
]

#: Variant name -> label; the peers need packages the repo's own .venv does not have.
VARIANTS = {
    "bare": "bare app",
    "lower_bound": "lower bound (dict + deque)",
    "posthog_web": "posthog-web",
    "ph_capture": "posthog-python capture middleware",
    "ph_context": "posthog-python PosthogASGIMiddleware (context only)",
    "otel_noop": "OpenTelemetry ASGI, no-op tracer",
    "otel_sdk": "OpenTelemetry ASGI, SDK tracer (no exporter)",
}


def posthog_web_middleware(client: Client) -> Middleware:
    """posthog-web as a user configures it (the internal pages excluded)."""
    return Middleware(
        PostHogMiddleware,
        client=client,
        secret_key=scenarios.SECRET,
        exclude_paths=[r"^/internal/"],
    )


def build_apps(
    pw_client: Client, ph_client: Any | None, only: set[str] | None = None
) -> dict[str, Any]:
    """One Starlette app per available variant."""
    middleware: dict[str, list[Middleware]] = {
        "bare": [],
        "lower_bound": [Middleware(lower_bound.LowerBoundASGIMiddleware)],
        "posthog_web": [posthog_web_middleware(pw_client)],
    }
    if ph_client is not None:
        from posthog.integrations.asgi import PosthogASGIMiddleware

        from bench.peers import PosthogCaptureASGIMiddleware

        middleware["ph_capture"] = [Middleware(PosthogCaptureASGIMiddleware, client=ph_client)]
        middleware["ph_context"] = [Middleware(PosthogASGIMiddleware, client=ph_client)]
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
        from opentelemetry.metrics import NoOpMeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace import NoOpTracerProvider
    except ImportError:
        pass
    else:
        for key, tracer_provider in (
            ("otel_noop", NoOpTracerProvider()),
            ("otel_sdk", TracerProvider()),
        ):
            middleware[key] = [
                Middleware(
                    OpenTelemetryMiddleware,
                    tracer_provider=tracer_provider,
                    meter_provider=NoOpMeterProvider(),
                )
            ]
    return {
        key: Starlette(routes=ROUTES, middleware=mw)
        for key, mw in middleware.items()
        if only is None or key in only
    }


class _Sink:
    """The ASGI ``send`` of the benchmark: remembers the last status."""

    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> dict[str, Any]:
    return _REQUEST


async def _serve(app: Callable[..., Any], template: dict[str, Any], n: int, sink: _Sink) -> None:
    for _ in range(n):
        scope = template.copy()
        scope["state"] = {}
        await app(scope, _receive, sink)


class StarletteHarness:
    """Runs ``n`` synthetic requests through one variant's app, in one event loop."""

    framework = "Starlette"

    def __init__(
        self, pw_client: Client, ph_client: Any | None, only: set[str] | None = None
    ) -> None:
        self.apps = build_apps(pw_client, ph_client, only)
        self.loop = asyncio.new_event_loop()
        self.sink = _Sink()

    def variants(self) -> list[str]:
        return list(self.apps)

    def prepare(self, request: scenarios.Request) -> dict[str, Any]:
        return scenarios.asgi_scope(request)

    def run(self, variant: str, template: dict[str, Any], n: int) -> int:
        """Serve ``n`` requests; return the last status."""
        self.sink.status = 0
        self.loop.run_until_complete(_serve(self.apps[variant], template, n, self.sink))
        return self.sink.status

    def close(self) -> None:
        self.loop.close()
