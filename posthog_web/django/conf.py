"""The ``POSTHOG_WEB`` settings dict: defaults, validation, and the client and tracker it builds.

One dict merged over :data:`DEFAULTS`, read once and cached; the cache is cleared on
``setting_changed`` (so ``override_settings`` works) and the client it built is shut
down. Callables may be given as objects or as dotted paths.
"""

from __future__ import annotations

import logging
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
from posthog_web.django.defaults import (
    DEFAULTS,
    default_distinct_id,
    default_person_properties,
    problems,
    resolve_callable,
    user_settings,
)
from posthog_web.django.flags_cache import flags_cache_store
from posthog_web.web.fallback import (
    LOCAL_INBOX_URL,
    PLACEHOLDER_API_KEY,
    keyless_host,
    recording_only_client,
)
from posthog_web.web.settings import CLIENT_KEYS as _CLIENT_KEYS
from posthog_web.web.settings import TRACKER_KEYS as _TRACKER_KEYS
from posthog_web.web.settings import api_key_and_host as shared_api_key_and_host
from posthog_web.web.settings import flags_options, flags_secret_key
from posthog_web.web.tracker import Tracker, TrackerOptions

# DEFAULTS, default_person_properties and problems live in web/settings.py (shared with
# Flask), resolve_callable and user_settings in defaults.py; they stay importable from
# here, where the docs name them.
__all__ = [
    "DEFAULTS",
    "LOCAL_INBOX_URL",
    "PostHogConfig",
    "default_person_properties",
    "flags_secret_key",
    "get_config",
    "problems",
    "reset",
    "resolve_callable",
    "user_settings",
]

logger = logging.getLogger(__name__)

# Settings that change what get_config() builds.
_WATCHED = frozenset({"POSTHOG_WEB", "SECRET_KEY", "DEBUG", "STATIC_URL", "MEDIA_URL"})


@dataclass(frozen=True)
class PostHogConfig:
    """What ``POSTHOG_WEB`` resolved to: the tracker (None when disabled) and the callables."""

    tracker: Tracker | None
    distinct_id: Callable[[Any], str]
    person_properties: Callable[[Any], Mapping[str, Any] | None] | None
    record_pageview: Callable[[Any, Any], bool | None] | None
    owns_client: bool
    disabled_reason: str | None = None
    groups: Callable[[Any], Mapping[str, Any] | None] | None = None
    """``GROUPS``: the request's groups, called once per request when an event needs them."""
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
    distinct_id = resolve_callable(conf["DISTINCT_ID"], "DISTINCT_ID") or default_distinct_id
    person_properties = resolve_callable(conf["PERSON_PROPERTIES"], "PERSON_PROPERTIES")
    record_pageview = resolve_callable(conf["RECORD_PAGEVIEW"], "RECORD_PAGEVIEW")
    groups = resolve_callable(conf["GROUPS"], "GROUPS")
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
        groups=groups,
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
    return shared_api_key_and_host(conf, debug=settings.DEBUG)


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
            flags_store=flags_cache_store(conf, api_key or PLACEHOLDER_API_KEY, host),
            **flags_options(conf),
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
        distinct_id=default_distinct_id,
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
