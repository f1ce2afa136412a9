"""``example_django``'s settings without posthog-web's middleware (the bare server)."""

from __future__ import annotations

from shop.settings import *  # noqa: F403
from shop.settings import MIDDLEWARE

MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("posthog_web.")]
