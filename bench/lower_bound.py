"""The lower bound: the least a page-view middleware can do, written the plain way.

It builds the page-view event a user would write by hand with the framework's own
request API (URL, host, path, referrer, user agent, client IP, the distinct id from a
cookie and an ISO timestamp: the fields PostHog needs, no uuid, which it can assign)
and appends it to a deque. No decision (every request counts),
no identity rules, no validation, no serialization, no delivery. The posthog-python
capture middlewares in :mod:`bench.peers` send the same properties.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.requests import Request

EVENTS: deque[dict[str, Any]] = deque()
ID_COOKIE = "ph_web_id"
_UTC = dt.timezone.utc


def scope_properties(scope: dict[str, Any]) -> dict[str, Any]:
    """The page-view properties of an ASGI scope, through Starlette's ``Request``."""
    request = Request(scope)
    url = request.url
    headers = request.headers
    client = request.client
    return {
        "$current_url": str(url),
        "$host": url.netloc,
        "$pathname": url.path,
        "$referrer": headers.get("referer"),
        "$raw_user_agent": headers.get("user-agent"),
        "$ip": client.host if client else None,
    }


def meta_properties(request: Any) -> dict[str, Any]:
    """The same properties from a Django request."""
    headers = request.headers
    return {
        "$current_url": request.build_absolute_uri(),
        "$host": request.get_host(),
        "$pathname": request.path,
        "$referrer": headers.get("referer"),
        "$raw_user_agent": headers.get("user-agent"),
        "$ip": request.META.get("REMOTE_ADDR"),
    }


def _event(distinct_id: str | None, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": "$pageview",
        "distinct_id": distinct_id,
        "timestamp": dt.datetime.now(_UTC).isoformat(),
        "properties": properties,
    }


class LowerBoundASGIMiddleware:
    """Pure ASGI: one event per HTTP request, appended to :data:`EVENTS`."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            cookies = Request(scope).cookies
            EVENTS.append(_event(cookies.get(ID_COOKIE), scope_properties(scope)))


class LowerBoundDjangoMiddleware:
    """Django (sync): one event per request, appended to :data:`EVENTS`."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        EVENTS.append(_event(request.COOKIES.get(ID_COOKIE), meta_properties(request)))
        return response
