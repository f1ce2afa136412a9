"""posthog-web: server-side PostHog product analytics for Django and ASGI apps.

The core (this package outside ``posthog_web.django``, ``posthog_web.asgi`` and
``posthog_web.fastapi``) imports only the standard library and ``requests``.
"""

from __future__ import annotations

from posthog_web._version import __version__
from posthog_web.client import EU_HOST, US_HOST, Client
from posthog_web.delivery import DeliveryError
from posthog_web.errors import ExceptionOptions
from posthog_web.flags.store import DefinitionsStore
from posthog_web.uncaught import capture_uncaught
from posthog_web.web.background import with_current
from posthog_web.web.helper import current

__all__ = [
    "EU_HOST",
    "US_HOST",
    "Client",
    "DefinitionsStore",
    "DeliveryError",
    "ExceptionOptions",
    "__version__",
    "capture_uncaught",
    "current",
    "with_current",
]
