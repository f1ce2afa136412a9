"""The FastAPI dependency for the request helper.

::

    from posthog_web.fastapi import PostHog

    @app.post("/buy")
    def buy(posthog: PostHog) -> dict[str, bool]:
        posthog.capture("purchase_completed", {"amount": 49})
        return {"ok": True}

It needs :class:`posthog_web.asgi.PostHogMiddleware` on the app; without it (or
for a request the middleware leaves alone, such as HEAD) the dependency gives the
no-op helper that :func:`posthog_web.current` returns outside a request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.requests import HTTPConnection

from posthog_web.asgi import HELPER_SCOPE_KEY
from posthog_web.web.helper import RequestHelper, current

__all__ = ["PostHog", "get_posthog"]


def get_posthog(connection: HTTPConnection) -> RequestHelper:
    """Return the PostHog helper of the request being handled."""
    helper = connection.scope.get(HELPER_SCOPE_KEY)
    if isinstance(helper, RequestHelper):
        return helper
    return current()


PostHog = Annotated[RequestHelper, Depends(get_posthog)]
"""``posthog: PostHog`` in an endpoint or dependency gives the request's helper."""
