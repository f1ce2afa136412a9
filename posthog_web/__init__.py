"""posthog-web: server-side PostHog product analytics for Django and ASGI apps.

The core (this package outside ``posthog_web.django``, ``posthog_web.asgi`` and
``posthog_web.fastapi``) imports only the standard library and ``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from posthog_web._version import __version__
from posthog_web.client import EU_HOST, US_HOST, Client
from posthog_web.delivery import DeliveryError
from posthog_web.errors import ExceptionOptions
from posthog_web.uncaught import capture_uncaught

if TYPE_CHECKING:
    from posthog_web.context import current

__all__ = [
    "EU_HOST",
    "US_HOST",
    "Client",
    "DeliveryError",
    "ExceptionOptions",
    "__version__",
    "capture_uncaught",
    "current",
]


def __getattr__(name: str) -> Any:
    # current() lives with the request layer; imported on first use.
    if name == "current":
        from posthog_web.context import current

        return current
    raise AttributeError(f"module 'posthog_web' has no attribute {name!r}")
