"""``{% load posthog_web %}{% posthog_snippet %}``: posthog-js continuing the server's visitor.

Put the tag in ``<head>``. It reads ``request`` from the template context when there
is one, else the current request (:func:`posthog_web.current`), so the ``request``
context processor is not needed; it renders nothing outside PostHogMiddleware. Keyword
arguments are those of :func:`posthog_web.snippet.posthog_snippet`, e.g.
``{% posthog_snippet nonce=request.csp_nonce capture_pageview=True %}``.
"""

from __future__ import annotations

from typing import Any

from django import template

from posthog_web.snippet import SafeHTML
from posthog_web.snippet import posthog_snippet as render

register = template.Library()


@register.simple_tag(takes_context=True)
def posthog_snippet(context: template.Context, **kwargs: Any) -> SafeHTML:
    """The posthog-js loader and ``posthog.init(...)`` for this request's visitor."""
    return render(context.get("request"), **kwargs)
