"""The ``POSTHOG_WEB`` setting as Django holds it: the raw dict, dotted paths, the user's id.

The keys, defaults and validation are framework-neutral and live in
:mod:`posthog_web.web.settings` (Flask reads the same dict); they stay importable from
here. :mod:`posthog_web.django.conf` builds the client and the tracker from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from posthog_web.web.settings import DEFAULTS, default_person_properties, problems

__all__ = [
    "DEFAULTS",
    "default_distinct_id",
    "default_person_properties",
    "problems",
    "resolve_callable",
    "user_settings",
]


def user_settings() -> Mapping[str, Any]:
    """The raw ``POSTHOG_WEB`` setting (``{}`` when it is not set)."""
    value = getattr(settings, "POSTHOG_WEB", None)
    return {} if value is None else value


def resolve_callable(value: object, key: str) -> Callable[..., Any] | None:
    """``value`` itself if callable, the object at a dotted path, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"POSTHOG_WEB[{key!r}]: cannot import {value!r}: {exc}"
            ) from None
    if not callable(value):
        raise ImproperlyConfigured(f"POSTHOG_WEB[{key!r}] must be callable, got {value!r:.60}")
    return value


def default_distinct_id(user: Any) -> str:
    return str(user.pk)
