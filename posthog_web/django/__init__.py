"""The Django integration: ``INSTALLED_APPS += ["posthog_web.django"]`` and the middleware.

``posthog_web.django.PostHogMiddleware`` is imported on first access, so listing the app
in ``INSTALLED_APPS`` does not import the middleware (nor anything that touches models)
while Django loads its apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posthog_web.django.middleware import PostHogMiddleware

__all__ = ["PostHogMiddleware"]


def __getattr__(name: str) -> Any:
    if name == "PostHogMiddleware":
        from posthog_web.django.middleware import PostHogMiddleware

        return PostHogMiddleware
    raise AttributeError(f"module 'posthog_web.django' has no attribute {name!r}")
