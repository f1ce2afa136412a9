"""The Django integration: ``INSTALLED_APPS += ["posthog_web.django"]`` and the middleware.

``posthog_web.django.PostHogMiddleware`` (and ``PostHogHttpRequest``, the request type
for annotating views) is imported on first access, so listing the app in
``INSTALLED_APPS`` does not import the middleware (nor anything that touches models)
while Django loads its apps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from posthog_web.django.middleware import PostHogMiddleware
    from posthog_web.django.typed_request import PostHogHttpRequest

__all__ = ["PostHogHttpRequest", "PostHogMiddleware"]


def __getattr__(name: str) -> Any:
    if name == "PostHogMiddleware":
        from posthog_web.django.middleware import PostHogMiddleware

        return PostHogMiddleware
    if name == "PostHogHttpRequest":
        from posthog_web.django.typed_request import PostHogHttpRequest

        return PostHogHttpRequest
    raise AttributeError(f"module 'posthog_web.django' has no attribute {name!r}")
