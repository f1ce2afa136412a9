"""The ``POSTHOG_WEB`` settings dict: defaults, validation, and the client and tracker it builds.

One dict merged over :data:`DEFAULTS`, read once and cached; the cache is cleared on
``setting_changed`` (so ``override_settings`` works) and the client it built is shut
down. Callables may be given as objects or as dotted paths.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from posthog_web.client import DEFAULT_HOST, Client, normalize_host
from posthog_web.delivery import recorder as recording
from posthog_web.web.fallback import (
    LOCAL_INBOX_URL,
    PLACEHOLDER_API_KEY,
    keyless_host,
    recording_only_client,
)
from posthog_web.web.tracker import Tracker, TrackerOptions

__all__ = ["DEFAULTS", "LOCAL_INBOX_URL", "PostHogConfig", "get_config", "reset"]

logger = logging.getLogger(__name__)

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
}

# POSTHOG_WEB keys that map one-to-one onto TrackerOptions fields.
_TRACKER_KEYS = (
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
)
_CLIENT_KEYS = (
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

# Settings that change what get_config() builds.
_WATCHED = frozenset({"POSTHOG_WEB", "SECRET_KEY", "DEBUG", "STATIC_URL", "MEDIA_URL"})


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


def _default_distinct_id(user: Any) -> str:
    return str(user.pk)


@dataclass(frozen=True)
class PostHogConfig:
    """What ``POSTHOG_WEB`` resolved to: the tracker (None when disabled) and the callables."""

    tracker: Tracker | None
    distinct_id: Callable[[Any], str]
    person_properties: Callable[[Any], Mapping[str, Any] | None] | None
    record_pageview: Callable[[Any, Any], bool | None] | None
    owns_client: bool
    disabled_reason: str | None = None
    recording_tracker: Tracker | None = None
    """Used instead of ``tracker`` (None) while a ``posthog_events`` recorder is active."""

    def request_tracker(self) -> Tracker | None:
        """The tracker for this request: ``tracker``, or the recording one under the fixture."""
        if self.tracker is not None or recording.active is None:
            return self.tracker
        return self.recording_tracker


def build(raw: Mapping[str, Any] | None = None, *, quiet: bool = False) -> PostHogConfig:
    """Build a :class:`PostHogConfig` from ``raw`` (the setting) merged over :data:`DEFAULTS`.

    ``quiet`` skips the log lines saying where events go (system checks build one too).
    """
    raw = user_settings() if raw is None else raw
    found = problems(raw)
    if found:
        raise ImproperlyConfigured("; ".join(message for _, message in found))
    conf = {**DEFAULTS, **raw}
    distinct_id = resolve_callable(conf["DISTINCT_ID"], "DISTINCT_ID") or _default_distinct_id
    person_properties = resolve_callable(conf["PERSON_PROPERTIES"], "PERSON_PROPERTIES")
    record_pageview = resolve_callable(conf["RECORD_PAGEVIEW"], "RECORD_PAGEVIEW")
    client, owns_client, reason = _client(conf, quiet)
    try:
        options = tracker_options(conf)
        tracker = None if client is None else Tracker(client, options)
        recording_tracker = Tracker(recording_only_client(), options) if client is None else None
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"POSTHOG_WEB: {exc}") from None
    return PostHogConfig(
        tracker=tracker,
        distinct_id=distinct_id,
        person_properties=person_properties,
        record_pageview=record_pageview,
        owns_client=owns_client,
        disabled_reason=reason,
        recording_tracker=recording_tracker,
    )


def tracker_options(conf: Mapping[str, Any]) -> TrackerOptions:
    """The :class:`TrackerOptions` for a merged settings dict."""
    static = conf["STATIC_PREFIXES"]
    if static is None:
        static = [
            url
            for url in (getattr(settings, "STATIC_URL", None), getattr(settings, "MEDIA_URL", None))
            if isinstance(url, str) and url.startswith("/")
        ]
    options: dict[str, Any] = {key.lower(): conf[key] for key in _TRACKER_KEYS}
    script = conf["POSTHOG_JS_SRC"]
    if script is None:
        script = f"{getattr(settings, 'STATIC_URL', None) or '/static/'}posthog-js/array.full.js"
    return TrackerOptions(
        static_prefixes=tuple(static),
        posthog_js_src=script,
        cookie_secret=conf["COOKIE_SECRET"] or settings.SECRET_KEY,
        # request.user comes from Django's session on every request.
        remember_login=False,
        **options,
    )


def api_key_and_host(conf: Mapping[str, Any]) -> tuple[str | None, str]:
    """The API key and host after the environment fallbacks and the DEBUG inbox rule."""
    api_key = conf["API_KEY"] or os.environ.get("POSTHOG_API_KEY") or None
    host = conf["HOST"] or os.environ.get("POSTHOG_HOST") or None
    if host is None:
        host = LOCAL_INBOX_URL if api_key is None and settings.DEBUG else DEFAULT_HOST
    return api_key, host


def _client(conf: Mapping[str, Any], quiet: bool) -> tuple[Client | None, bool, str | None]:
    given = conf["CLIENT"]
    if given is not None:
        if isinstance(given, str):
            try:
                given = import_string(given)
            except ImportError as exc:
                raise ImproperlyConfigured(
                    f"POSTHOG_WEB['CLIENT']: cannot import {given!r}: {exc}"
                ) from None
            if not isinstance(given, Client) and callable(given):
                given = given()
        if not isinstance(given, Client):
            raise ImproperlyConfigured(
                f"POSTHOG_WEB['CLIENT'] must be a posthog_web.Client, got {given!r:.60}"
            )
        return given, False, None
    api_key, host = api_key_and_host(conf)
    _check_host(host, bool(conf["ALLOW_INSECURE_HTTP"]))
    disabled = conf["DISABLED"]
    if api_key is None and not disabled:
        # api_key_and_host() already applied the DEBUG rule; a loopback HOST is an inbox too.
        if keyless_host(host, local_inbox=False) is None:
            reason = "PostHog is disabled: POSTHOG_WEB has no API_KEY (nothing is sent)"
            return None, False, reason
        if not quiet:
            logger.info(
                "posthog-web: no API_KEY; events go to the local inbox at %s "
                "(start it with `posthog-web inbox`)",
                host,
            )
    options = {key.lower(): conf[key] for key in _CLIENT_KEYS}
    try:
        client = Client(
            api_key or PLACEHOLDER_API_KEY,
            host=host,
            disabled=disabled,
            timeout=float(conf["TIMEOUT"]),
            **options,
        )
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"POSTHOG_WEB: {exc}") from None
    if not disabled and not quiet:
        logger.info("posthog-web: sending events to %s", client.host)
    return client, True, None


def _check_host(host: str, allow_insecure_http: bool) -> None:
    # Before the API key rules: a HOST without a scheme is a mistake to name, not a
    # reason to say "no API_KEY".
    parts = urlsplit(host.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"POSTHOG_WEB['HOST'] (or POSTHOG_HOST) must be an http(s) URL such as "
            f"{DEFAULT_HOST!r} or {LOCAL_INBOX_URL!r}, not {host!r}"
        )
    try:
        normalize_host(
            host,
            allow_insecure_http=allow_insecure_http,
            insecure_hint="set POSTHOG_WEB['ALLOW_INSECURE_HTTP'] = True",
        )
    except ValueError as exc:
        raise ImproperlyConfigured(f"POSTHOG_WEB['HOST']: {exc}") from None


_lock = threading.Lock()
_config: PostHogConfig | None = None


def get_config() -> PostHogConfig:
    """The current configuration, built on first use and cached until settings change."""
    global _config
    config = _config
    if config is None:
        with _lock:
            config = _config
            if config is None:
                try:
                    config = build()
                except ImproperlyConfigured as exc:
                    # `manage.py check` reports the details; requests go on untracked.
                    logger.error("posthog-web is disabled: %s", exc)
                    config = _broken(f"PostHog is disabled: {exc}")
                else:
                    if config.tracker is None and config.disabled_reason:
                        # A warning, not the info line: a usual LOGGING shows it.
                        logger.warning(
                            "posthog-web: %s; set POSTHOG_WEB['API_KEY'] (or DEBUG=True for "
                            "the local inbox, DISABLED=True to silence this)",
                            config.disabled_reason,
                        )
                _config = config
    return config


def _broken(reason: str) -> PostHogConfig:
    return PostHogConfig(
        tracker=None,
        distinct_id=_default_distinct_id,
        person_properties=None,
        record_pageview=None,
        owns_client=False,
        disabled_reason=reason,
    )


def reset() -> None:
    """Drop the cached configuration and shut down the client it built (bounded)."""
    global _config
    with _lock:
        old, _config = _config, None
    if old is not None and old.owns_client and old.tracker is not None:
        old.tracker.client.shutdown(timeout=2.0)


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _WATCHED:
        reset()
