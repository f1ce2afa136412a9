"""The ``POSTHOG_WEB`` settings: :data:`DEFAULTS`, their types and their validation.

:mod:`posthog_web.django.conf` builds the client and the tracker from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from posthog_web.client import Client

__all__ = [
    "DEFAULTS",
    "default_distinct_id",
    "default_person_properties",
    "problems",
    "resolve_callable",
    "user_settings",
]

_NONE = type(None)
_CALLABLE = "callable"
_STRINGS = "strings"

#: Every key of ``POSTHOG_WEB`` with its default and accepted types.
DEFAULTS: dict[str, Any] = {
    # Where events go.
    "API_KEY": None,  # falls back to the POSTHOG_API_KEY environment variable
    "HOST": None,  # falls back to POSTHOG_HOST, then https://us.i.posthog.com
    "CLIENT": None,  # a posthog_web.Client (or a dotted path to one) replacing API_KEY/HOST
    "DISABLED": False,
    "SYNC_MODE": False,
    "FLUSH_AT": 500,
    "FLUSH_INTERVAL": 0.5,
    "MAX_QUEUE_SIZE": 10_000,
    "GZIP": True,
    "MAX_RETRIES": 6,
    "TIMEOUT": 10.0,
    "SPOOL_DIR": None,  # a directory for undelivered events (docs/reliability.md)
    "SPOOL_MAX_BYTES": 100 * 1024 * 1024,
    # Who the visitor is.
    "DISTINCT_ID": None,  # f(user) -> str; None: str(user.pk)
    "PERSON_PROPERTIES": "posthog_web.django.conf.default_person_properties",
    "PERSON_PROFILES": "identified_only",
    "GROUPS": None,  # f(request) -> {group_type: group_key} | None (docs/groups.md)
    "CAPTURE_TRACING_HEADERS": True,
    "READ_POSTHOG_JS_COOKIE": True,
    "SESSION_IDLE_TIMEOUT_SECONDS": 1800,
    "ANONYMOUS_COOKIE_NAME": "ph_web_id",
    "COOKIE_SECRET": None,  # None: SECRET_KEY
    "COOKIE_MAX_AGE": 365 * 24 * 3600,
    "COOKIE_SECURE": None,  # None: on HTTPS requests
    "COOKIE_DOMAIN": None,
    # What is a page view.
    "RECORD_PAGEVIEW": None,  # f(request, response) -> bool | None
    "EXCLUDE_PATHS": (),
    "INCLUDE_PATHS": (),
    "STATIC_PREFIXES": None,  # None: STATIC_URL and MEDIA_URL
    "FILTER_BOTS": True,
    "BOT_USER_AGENTS": (),
    "BOT_PAGEVIEWS": False,
    # The browser bridge (docs/browser.md).
    "SESSION_COOKIE_NAME": "ph_web_session",
    "POSTHOG_JS_SRC": None,  # None: STATIC_URL + "posthog-js/array.full.js"
    "POSTHOG_JS_API_HOST": None,  # None: HOST
    "POSTHOG_JS_OPTIONS": None,  # more posthog.init options for {% posthog_snippet %}
    # What leaves the server (docs/security.md).
    "MASKED_QUERY_PARAMS": (),
    "KEPT_QUERY_PARAMS": (),
    "QUERY_ALLOWLIST": False,
    "TRUSTED_PROXIES": (),  # nothing: X-Forwarded-For is never read
    "IP_MODE": "full",
    "RESPECT_GPC": True,
    "RESPECT_DNT": False,
    "COOKIELESS_MODE": "off",
    "ALLOW_INSECURE_HTTP": False,
    # Error tracking (docs/errors.md).
    "CAPTURE_EXCEPTIONS": True,
    "IGNORE_EXCEPTIONS": None,  # None: Http404, PermissionDenied, 4xx HTTPException...
    "IN_APP": None,  # None: every module outside site-packages and the standard library
    "CAPTURE_CODE_VARIABLES": None,  # None: the client's exception_options (off)
}

_TYPES: dict[str, tuple[Any, ...]] = {
    "API_KEY": (str, _NONE),
    "HOST": (str, _NONE),
    "CLIENT": (Client, str, _NONE),
    "DISABLED": (bool,),
    "SYNC_MODE": (bool,),
    "FLUSH_AT": (int,),
    "FLUSH_INTERVAL": (int, float),
    "MAX_QUEUE_SIZE": (int,),
    "GZIP": (bool,),
    "MAX_RETRIES": (int,),
    "TIMEOUT": (int, float),
    "SPOOL_DIR": (str, _NONE),
    "SPOOL_MAX_BYTES": (int,),
    "DISTINCT_ID": (_CALLABLE, _NONE),
    "PERSON_PROPERTIES": (_CALLABLE, _NONE),
    "PERSON_PROFILES": (str,),
    "GROUPS": (_CALLABLE, _NONE),
    "CAPTURE_TRACING_HEADERS": (bool,),
    "READ_POSTHOG_JS_COOKIE": (bool,),
    "SESSION_IDLE_TIMEOUT_SECONDS": (int,),
    "ANONYMOUS_COOKIE_NAME": (str,),
    "COOKIE_SECRET": (str, _NONE),
    "COOKIE_MAX_AGE": (int,),
    "COOKIE_SECURE": (bool, _NONE),
    "COOKIE_DOMAIN": (str, _NONE),
    "RECORD_PAGEVIEW": (_CALLABLE, _NONE),
    "EXCLUDE_PATHS": (_STRINGS,),
    "INCLUDE_PATHS": (_STRINGS,),
    "STATIC_PREFIXES": (_STRINGS, _NONE),
    "FILTER_BOTS": (bool,),
    "BOT_USER_AGENTS": (_STRINGS,),
    "BOT_PAGEVIEWS": (bool,),
    "SESSION_COOKIE_NAME": (str,),
    "POSTHOG_JS_SRC": (str, _NONE),
    "POSTHOG_JS_API_HOST": (str, _NONE),
    "POSTHOG_JS_OPTIONS": (dict, _NONE),
    "MASKED_QUERY_PARAMS": (_STRINGS,),
    "KEPT_QUERY_PARAMS": (_STRINGS,),
    "QUERY_ALLOWLIST": (bool,),
    "TRUSTED_PROXIES": (_STRINGS,),
    "IP_MODE": (str,),
    "RESPECT_GPC": (bool,),
    "RESPECT_DNT": (bool,),
    "COOKIELESS_MODE": (str,),
    "ALLOW_INSECURE_HTTP": (bool,),
    "CAPTURE_EXCEPTIONS": (bool,),
    "IGNORE_EXCEPTIONS": (list, tuple, _NONE),
    "IN_APP": (_STRINGS, _NONE),
    "CAPTURE_CODE_VARIABLES": (bool, _NONE),
}

_TYPE_NAMES = {
    str: "a str",
    _NONE: "None",
    bool: "True or False",
    int: "an int",
    float: "a float",
    Client: "a posthog_web.Client",
    _CALLABLE: "a callable (or its dotted path)",
    _STRINGS: "a list or tuple of str",
    dict: "a dict",
    list: "a list",
    tuple: "a tuple",
}


# POSTHOG_WEB keys that map one-to-one onto TrackerOptions fields.
def _matches(value: object, kind: object) -> bool:
    if kind is _CALLABLE:
        return callable(value) or isinstance(value, str)
    if kind is _STRINGS:
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if isinstance(value, bool):
        return kind is bool
    assert isinstance(kind, type)
    return isinstance(value, kind)


def user_settings() -> Mapping[str, Any]:
    """The raw ``POSTHOG_WEB`` setting (``{}`` when it is not set)."""
    value = getattr(settings, "POSTHOG_WEB", None)
    return {} if value is None else value


def problems(raw: object) -> list[tuple[str, str]]:
    """Every problem in a ``POSTHOG_WEB`` value, as ``(check id, message)`` pairs."""
    if not isinstance(raw, Mapping):
        return [("E001", f"POSTHOG_WEB must be a dict, not {type(raw).__name__}")]
    found = []
    for key in raw:
        if key not in DEFAULTS:
            found.append(("E002", f"POSTHOG_WEB has an unknown key {key!r}"))
    for key, value in raw.items():
        kinds = _TYPES.get(key)
        if kinds is not None and not any(_matches(value, kind) for kind in kinds):
            expected = " or ".join(_TYPE_NAMES[kind] for kind in kinds)
            found.append(
                (
                    "E003",
                    f"POSTHOG_WEB[{key!r}] must be {expected}, not {type(value).__name__} "
                    f"({value!r:.60})",
                )
            )
    return found


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


def default_person_properties(user: Any) -> dict[str, Any]:
    """The default person properties: email, username and name, when the user has them."""
    props: dict[str, Any] = {}
    email_field = getattr(user, "EMAIL_FIELD", "email")
    email = getattr(user, email_field, None)
    if isinstance(email, str) and email:
        props["email"] = email
    get_username = getattr(user, "get_username", None)
    username = get_username() if callable(get_username) else None
    if isinstance(username, str) and username:
        props["username"] = username
    get_full_name = getattr(user, "get_full_name", None)
    name = get_full_name() if callable(get_full_name) else getattr(user, "name", None)
    if isinstance(name, str) and name.strip():
        props["name"] = name.strip()
    return props


def default_distinct_id(user: Any) -> str:
    return str(user.pk)
