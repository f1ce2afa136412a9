"""The ``POSTHOG_WEB`` settings dict: its keys, defaults, types and validation.

Framework-neutral, so every adapter configured by this dict reads the same keys the
same way: Django's ``settings.POSTHOG_WEB`` (:mod:`posthog_web.django.conf`) and Flask's
``app.config["POSTHOG_WEB"]`` (:mod:`posthog_web.flask`). What a key defaults to when
its value is None (a static URL, a secret key, the debug flag) is each adapter's.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from posthog_web.client import DEFAULT_HOST, Client
from posthog_web.web.fallback import LOCAL_INBOX_URL, PLACEHOLDER_API_KEY, keyless_host

__all__ = [
    "CLIENT_KEYS",
    "DEFAULTS",
    "TRACKER_KEYS",
    "api_key_and_host",
    "default_person_properties",
    "flags_options",
    "flags_secret_key",
    "import_dotted",
    "problems",
    "settings_client",
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
    "PERSON_PROPERTIES": "posthog_web.web.settings.default_person_properties",
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
    # Feature flags (docs/flags.md).
    "FLAGS_SECRET_KEY": None,  # falls back to POSTHOG_FLAGS_SECRET_KEY; None: remote evaluation
    "FLAGS_POLL_INTERVAL": 30.0,
    "FLAGS_TIMEOUT": 3.0,
    "FLAGS_CACHE_DIR": None,  # a directory the workers of one machine share definitions in
    "FLAGS_CACHE": None,  # Django only: a cache alias the workers share definitions through
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
    "FLAGS_SECRET_KEY": (str, _NONE),
    "FLAGS_POLL_INTERVAL": (int, float),
    "FLAGS_TIMEOUT": (int, float),
    "FLAGS_CACHE_DIR": (str, _NONE),
    "FLAGS_CACHE": (str, _NONE),
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


def _matches(value: object, kind: object) -> bool:
    if kind is _CALLABLE:
        return callable(value) or isinstance(value, str)
    if kind is _STRINGS:
        return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
    if isinstance(value, bool):
        return kind is bool
    assert isinstance(kind, type)
    return isinstance(value, kind)


#: Keys passed to :class:`~posthog_web.web.options.TrackerOptions` as they are (lower-cased).
TRACKER_KEYS = (
    "PERSON_PROFILES",
    "CAPTURE_TRACING_HEADERS",
    "READ_POSTHOG_JS_COOKIE",
    "SESSION_IDLE_TIMEOUT_SECONDS",
    "ANONYMOUS_COOKIE_NAME",
    "COOKIE_MAX_AGE",
    "COOKIE_SECURE",
    "COOKIE_DOMAIN",
    "EXCLUDE_PATHS",
    "INCLUDE_PATHS",
    "FILTER_BOTS",
    "BOT_USER_AGENTS",
    "BOT_PAGEVIEWS",
    "SESSION_COOKIE_NAME",
    "POSTHOG_JS_API_HOST",
    "POSTHOG_JS_OPTIONS",
    "MASKED_QUERY_PARAMS",
    "KEPT_QUERY_PARAMS",
    "QUERY_ALLOWLIST",
    "TRUSTED_PROXIES",
    "IP_MODE",
    "RESPECT_GPC",
    "RESPECT_DNT",
    "COOKIELESS_MODE",
    "CAPTURE_EXCEPTIONS",
    "IGNORE_EXCEPTIONS",
    "IN_APP",
    "CAPTURE_CODE_VARIABLES",
)
#: Keys passed to :class:`~posthog_web.Client` as they are (lower-cased).
CLIENT_KEYS = (
    "SYNC_MODE",
    "FLUSH_AT",
    "FLUSH_INTERVAL",
    "MAX_QUEUE_SIZE",
    "GZIP",
    "MAX_RETRIES",
    "ALLOW_INSECURE_HTTP",
    "SPOOL_DIR",
    "SPOOL_MAX_BYTES",
)


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


def import_dotted(path: str) -> Any:
    """The object at ``"package.module.name"`` (ImportError naming the path if absent)."""
    module_path, _, name = path.rpartition(".")
    if not module_path:
        raise ImportError(f"{path!r} is not a dotted path")
    module = importlib.import_module(module_path)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_path!r} has no attribute {name!r}") from None


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


def api_key_and_host(conf: Mapping[str, Any], *, debug: bool) -> tuple[str | None, str]:
    """The API key and host after the environment fallbacks and the debug inbox rule."""
    api_key = conf["API_KEY"] or os.environ.get("POSTHOG_API_KEY") or None
    host = conf["HOST"] or os.environ.get("POSTHOG_HOST") or None
    if host is None:
        host = LOCAL_INBOX_URL if api_key is None and debug else DEFAULT_HOST
    return api_key, host


def flags_secret_key(conf: Mapping[str, Any]) -> str | None:
    """``FLAGS_SECRET_KEY``, else the ``POSTHOG_FLAGS_SECRET_KEY`` environment variable."""
    return conf.get("FLAGS_SECRET_KEY") or os.environ.get("POSTHOG_FLAGS_SECRET_KEY") or None


def flags_options(conf: Mapping[str, Any]) -> dict[str, Any]:
    """The ``flags_*`` arguments of :class:`~posthog_web.Client` for a merged dict."""
    return {
        "flags_secret_key": flags_secret_key(conf),
        "flags_poll_interval": conf["FLAGS_POLL_INTERVAL"],
        "flags_timeout": conf["FLAGS_TIMEOUT"],
        "flags_cache_dir": conf["FLAGS_CACHE_DIR"],
    }


def settings_client(conf: Mapping[str, Any], *, debug: bool) -> Client | None:
    """The client a merged settings dict stands for; None when nothing may be sent.

    ``CLIENT`` (a :class:`~posthog_web.Client`, or a dotted path to one or to a function
    returning one) wins; else ``API_KEY``/``HOST`` with their environment fallbacks; with
    no key, a loopback host is a local inbox (``debug``: the default one). Raises
    ``ValueError`` naming the key.
    """
    given = conf["CLIENT"]
    if given is not None:
        if isinstance(given, str):
            given = import_dotted(given)
            if not isinstance(given, Client) and callable(given):
                given = given()
        if not isinstance(given, Client):
            raise ValueError(
                f"POSTHOG_WEB['CLIENT'] must be a posthog_web.Client, got {given!r:.60}"
            )
        return given
    if conf.get("FLAGS_CACHE") is not None:
        raise ValueError(
            "POSTHOG_WEB['FLAGS_CACHE'] names a Django cache; here use FLAGS_CACHE_DIR, or "
            "CLIENT with Client(flags_store=...)"
        )
    api_key, host = api_key_and_host(conf, debug=debug)
    disabled = conf["DISABLED"]
    if api_key is None and not disabled and keyless_host(host, local_inbox=False) is None:
        return None
    options = {key.lower(): conf[key] for key in CLIENT_KEYS}
    try:
        return Client(
            api_key or PLACEHOLDER_API_KEY,
            host=host,
            disabled=disabled,
            timeout=float(conf["TIMEOUT"]),
            **flags_options(conf),
            **options,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"POSTHOG_WEB: {exc}") from None
