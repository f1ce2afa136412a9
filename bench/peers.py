"""posthog-python used the way a user would: a capture middleware, and its own middlewares.

Imported only when ``posthog`` is installed (bench/.venv has it; the repo's .venv not).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from posthog import Posthog

from bench import lower_bound

#: The client the Django capture middleware uses (Django builds middleware from a path).
CLIENT: Posthog | None = None
#: capture() calls accepted and refused (posthog-python returns None when it drops one).
CAPTURED = [0]
REFUSED = [0]


def make_client(host: str) -> Posthog:
    """posthog-python at its defaults, sending to ``host``."""
    # Its queue-full warnings would flood the output; they are counted instead.
    logging.getLogger("posthog").setLevel(logging.ERROR)
    return Posthog("phc_bench", host=host)


def _capture(client: Posthog, properties: dict[str, Any]) -> None:
    if client.capture("$pageview", properties=properties) is None:
        REFUSED[0] += 1
    else:
        CAPTURED[0] += 1


class PosthogCaptureASGIMiddleware:
    """Pure ASGI: ``Posthog.capture("$pageview")`` after every HTTP request."""

    def __init__(self, app: Callable[..., Any], client: Posthog) -> None:
        self.app = app
        self.client = client

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            _capture(self.client, lower_bound.scope_properties(scope))


class PosthogCaptureDjangoMiddleware:
    """Django (sync): ``Posthog.capture("$pageview")`` after every request."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        assert CLIENT is not None
        _capture(CLIENT, lower_bound.meta_properties(request))
        return response
