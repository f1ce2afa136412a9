"""``PostHogHttpRequest``: Django's ``HttpRequest`` with ``request.posthog``, for type checkers."""

from __future__ import annotations

from django.http import HttpRequest

from posthog_web.web.helper import RequestHelper

__all__ = ["PostHogHttpRequest"]


class PostHogHttpRequest(HttpRequest):
    """An ``HttpRequest`` that has the ``posthog`` helper the middleware sets.

    Annotate a view with it (``def buy(request: PostHogHttpRequest) -> HttpResponse``)
    and mypy or pyright check ``request.posthog.capture(...)`` instead of reporting an
    unknown attribute. Only the annotation changes: Django still passes its own request
    object, which the middleware gave the attribute (a helper that does nothing where
    the middleware is not installed or is disabled: see docs/django.md).
    """

    posthog: RequestHelper
