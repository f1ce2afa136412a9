"""Pure ASGI 3 middleware: page views, identity and ``request.state.posthog``.

Works with Starlette, FastAPI and any other ASGI 3 application; it imports no framework.
One module per job: ``middleware`` (:class:`PostHogMiddleware`, its options and client),
``exchange`` (one request and its response), ``lifespan`` (the flush at shutdown),
``request`` (the scope as a :class:`~posthog_web.web.RequestView`), ``response`` (cache
headers and cookies), ``routes`` (route, view and route name) and ``types``.
"""

from __future__ import annotations

from posthog_web.asgi.middleware import PostHogMiddleware
from posthog_web.asgi.request import parse_cookie_header, request_view
from posthog_web.asgi.types import HELPER_SCOPE_KEY, HELPER_STATE_KEY

__all__ = [
    "HELPER_SCOPE_KEY",
    "HELPER_STATE_KEY",
    "PostHogMiddleware",
    "parse_cookie_header",
    "request_view",
]
