"""``{% load posthog_web %}{% posthog_snippet %}``: posthog-js continuing the server's visitor.

Put the tag in ``<head>``. It reads ``request`` from the template context when there
is one, else the current request (:func:`posthog_web.current`), so the ``request``
context processor is not needed; it renders nothing outside PostHogMiddleware. Keyword
arguments are those of :func:`posthog_web.web.snippet.posthog_snippet`, e.g.
``{% posthog_snippet nonce=request.csp_nonce capture_pageview=True %}``.

Flags: ``{% posthog_feature_flag "key" as v %}``, ``{% posthog_feature_enabled "key" as on %}``
and ``{% posthog_feature_flag_payload "key" as p %}`` (docs/flags.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver

from posthog_web.django.checks import POSTHOG_JS_HINT, missing_posthog_js
from posthog_web.django.conf import get_config
from posthog_web.web.snippet import SafeHTML, helper_for
from posthog_web.web.snippet import posthog_snippet as render

register = template.Library()
logger = logging.getLogger(__name__)

# Script URLs already checked against the static files finders (once per process each).
_checked_sources: set[str] = set()
_STATIC_SETTINGS = frozenset(
    {"INSTALLED_APPS", "STATIC_URL", "STATICFILES_DIRS", "STATICFILES_FINDERS"}
)


@receiver(setting_changed)
def _forget_checked_sources(*, setting: str, **kwargs: Any) -> None:
    if setting in _STATIC_SETTINGS:
        _checked_sources.clear()


@register.simple_tag(takes_context=True)
def posthog_snippet(context: template.Context, **kwargs: Any) -> SafeHTML:
    """The posthog-js loader and ``posthog.init(...)`` for this request's visitor."""
    snippet = render(context.get("request"), **kwargs)
    if snippet:
        tracker = get_config().request_tracker()
        src = kwargs.get("script_src") or (tracker.options.posthog_js_src if tracker else None)
        if isinstance(src, str):
            _check_script_once(src)
    return snippet


def _check_script_once(src: str) -> None:
    if src in _checked_sources or len(_checked_sources) >= 64:
        return
    _checked_sources.add(src)
    problem = missing_posthog_js(src)
    if problem is not None:
        logger.warning(
            "posthog_web.W004: %s; posthog-js will not start. %s", problem, POSTHOG_JS_HINT
        )


@register.simple_tag(takes_context=True)
def posthog_feature_flag(context: template.Context, key: str) -> bool | str | None:
    """``{% posthog_feature_flag "key" as variant %}``: the flag's value for this visitor.

    The request's own evaluation (once per request, shared with the view); None when
    it could not be evaluated or outside PostHogMiddleware.
    """
    return helper_for(context.get("request")).get_feature_flag(key)


@register.simple_tag(takes_context=True)
def posthog_feature_enabled(context: template.Context, key: str) -> bool:
    """``{% posthog_feature_enabled "key" as on %}``: whether the flag is on."""
    return helper_for(context.get("request")).feature_enabled(key)


@register.simple_tag(takes_context=True)
def posthog_feature_flag_payload(context: template.Context, key: str) -> Any:
    """``{% posthog_feature_flag_payload "key" as payload %}``: the value's payload."""
    return helper_for(context.get("request")).get_feature_flag_payload(key)
