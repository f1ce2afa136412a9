"""Feature flags in templates: globals for Jinja2 (Starlette, FastAPI) next to the snippet.

::

    from posthog_web.web.snippet import posthog_snippet
    from posthog_web.web.templates import FLAG_GLOBALS

    templates.env.globals["posthog_snippet"] = posthog_snippet
    templates.env.globals.update(FLAG_GLOBALS)

then ``{% if posthog_feature_flag(request, "new-banner") == "test" %}``. Each reads the
request's own helper (``request=None``: the current request), so the value is the one
the view saw, evaluated once per request, and it goes on the request's events. Django
has the same as template tags (``{% posthog_feature_flag "key" as v %}``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posthog_web.web.snippet import helper_for

__all__ = [
    "FLAG_GLOBALS",
    "posthog_feature_enabled",
    "posthog_feature_flag",
    "posthog_feature_flag_payload",
]


def posthog_feature_flag(request: object, key: str) -> bool | str | None:
    """Flag ``key``'s value for the visitor of ``request`` (None: not evaluated)."""
    return helper_for(request).get_feature_flag(key)


def posthog_feature_enabled(request: object, key: str) -> bool:
    """Whether flag ``key`` is on for the visitor of ``request``."""
    return helper_for(request).feature_enabled(key)


def posthog_feature_flag_payload(request: object, key: str) -> Any:
    """The payload of flag ``key``'s value for the visitor of ``request``, or None."""
    return helper_for(request).get_feature_flag_payload(key)


#: The three functions by their template names, for ``env.globals.update(...)``.
FLAG_GLOBALS: dict[str, Callable[..., Any]] = {
    "posthog_feature_flag": posthog_feature_flag,
    "posthog_feature_enabled": posthog_feature_enabled,
    "posthog_feature_flag_payload": posthog_feature_flag_payload,
}
