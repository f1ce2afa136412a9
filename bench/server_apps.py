"""The examples as served in the real-server run: with posthog-web, and bare.

``uvicorn bench.server_apps:starlette_posthog`` is ``example_starlette`` itself;
``starlette_bare`` is the same routes and authentication without PostHogMiddleware.
The Django pair is ``example_django`` with ``shop.settings`` and with
``bench.server_django_bare`` (its settings minus the middleware).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware

from example_starlette import starlette_app

starlette_posthog = starlette_app.app
starlette_bare = Starlette(
    routes=starlette_app.routes,
    middleware=[Middleware(AuthenticationMiddleware, backend=starlette_app.CookieBackend())],
)
