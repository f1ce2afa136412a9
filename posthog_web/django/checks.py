"""System checks: ``manage.py check`` reports configuration problems with ``posthog_web.*`` ids.

- ``posthog_web.E001`` ``POSTHOG_WEB`` is not a dict
- ``posthog_web.E002`` an unknown key in ``POSTHOG_WEB``
- ``posthog_web.E003`` a value of the wrong type
- ``posthog_web.E004`` a value the client or tracker refuses (bad dotted path, regex, host...)
- ``posthog_web.E005`` the middleware is placed before ``AuthenticationMiddleware``
- ``posthog_web.W001`` no API key: the integration is disabled, nothing is sent
- ``posthog_web.W002`` the app is installed but the middleware is not in ``MIDDLEWARE``
- ``posthog_web.W003`` (logged by the middleware) the middleware runs without the app
- ``posthog_web.W004`` ``POSTHOG_JS_SRC`` points into ``STATIC_URL`` but no static files
  finder has the file
- ``posthog_web.E006`` ``FLAGS_SECRET_KEY`` is a project API key (``phc_...``)
- ``posthog_web.W005`` ``FLAGS_SECRET_KEY`` is set but no ``HOST``: definitions are
  fetched from PostHog's US cloud
- ``posthog_web.E007`` ``FLAGS_CACHE`` is not an alias in ``settings.CACHES``
- ``posthog_web.E008`` both ``FLAGS_CACHE`` and ``FLAGS_CACHE_DIR`` are set
- ``posthog_web.W006`` ``FLAGS_CACHE`` is a per-process cache (``LocMemCache``) or
  ``DummyCache``: it shares nothing across workers
- ``posthog_web.I001`` where events go (PostHog's host, the local inbox, or nowhere)
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from posthog_web.web.fallback import PLACEHOLDER_API_KEY

__all__ = [
    "check_destination",
    "check_middleware",
    "check_posthog_js_file",
    "check_settings",
    "register",
]

MIDDLEWARE_PATH = "posthog_web.django.PostHogMiddleware"
_MIDDLEWARE_PATHS = (MIDDLEWARE_PATH, "posthog_web.django.middleware.PostHogMiddleware")
_AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"


def check_settings(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Check ``POSTHOG_WEB``: its shape, keys, types, and whether it can be built."""
    from posthog_web.django import conf

    raw = conf.user_settings()
    found: list[checks.CheckMessage] = []
    for check_id, message in conf.problems(raw):
        hint = None
        if check_id == "E002":
            key = message.rsplit(" ", 1)[-1].strip("'\"")
            close = difflib.get_close_matches(key, list(conf.DEFAULTS), n=1)
            hint = f"Did you mean {close[0]!r}?" if close else "See docs/django.md."
        found.append(checks.Error(message, hint=hint, id=f"posthog_web.{check_id}"))
    if found:
        return found
    flags = _check_flags_key(raw) + _check_flags_cache(raw)
    if any(message.is_serious() for message in flags):
        return flags
    found.extend(flags)
    try:
        config = conf.build(raw, quiet=True)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="posthog_web.E004")]
    if config.owns_client and config.tracker is not None:
        config.tracker.client.shutdown(timeout=1.0)
    if config.tracker is None and config.disabled_reason:
        found.append(
            checks.Warning(
                "POSTHOG_WEB has no API_KEY (nor POSTHOG_API_KEY in the environment): "
                "the PostHog integration is disabled and sends nothing.",
                hint="Set POSTHOG_WEB['API_KEY'] to your project API key (phc_...), or "
                "DISABLED=True to silence this warning.",
                id="posthog_web.W001",
            )
        )
    return found


def _check_flags_key(raw: Any) -> list[checks.CheckMessage]:
    """The flags secret key: not a project key, and sent to the host the app chose."""
    from posthog_web.django import conf

    merged = {**conf.DEFAULTS, **raw}
    key = conf.flags_secret_key(merged)
    if key is None or raw.get("CLIENT") is not None:
        return []
    if key.strip().startswith("phc_"):
        return [
            checks.Error(
                "POSTHOG_WEB['FLAGS_SECRET_KEY'] (or POSTHOG_FLAGS_SECRET_KEY) is a project "
                "API key (phc_...), which cannot read flag definitions.",
                hint="Use a personal API key (phx_...) with feature_flag:read, or the "
                "project's feature flags secure key; the phc_ key belongs in API_KEY.",
                id="posthog_web.E006",
            )
        ]
    api_key, host = conf.api_key_and_host(merged)
    if merged["HOST"] is None and not os.environ.get("POSTHOG_HOST") and api_key is not None:
        return [
            checks.Warning(
                f"POSTHOG_WEB['FLAGS_SECRET_KEY'] is set but HOST is not: flag definitions "
                f"are fetched from {host}, which answers 401 for a project elsewhere (then "
                "every flag is evaluated remotely).",
                hint="Set POSTHOG_WEB['HOST'] to your project's region, e.g. "
                "'https://eu.i.posthog.com'.",
                id="posthog_web.W005",
            )
        ]
    return []


# Caches that share nothing between processes: with them every worker polls.
_UNSHARED_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache": "each process has its own LocMemCache",
    "django.core.cache.backends.dummy.DummyCache": "DummyCache stores nothing",
}


def _check_flags_cache(raw: Any) -> list[checks.CheckMessage]:
    """``FLAGS_CACHE``: a configured alias, not beside ``FLAGS_CACHE_DIR``, and shared."""
    alias = raw.get("FLAGS_CACHE")
    if alias is None:
        return []
    if raw.get("FLAGS_CACHE_DIR") is not None:
        return [
            checks.Error(
                "POSTHOG_WEB sets both FLAGS_CACHE and FLAGS_CACHE_DIR: the flag "
                "definitions can be shared through one of them only.",
                hint="Keep FLAGS_CACHE (shared by every machine using that cache) or "
                "FLAGS_CACHE_DIR (one machine), not both.",
                id="posthog_web.E008",
            )
        ]
    caches = getattr(settings, "CACHES", None) or {}
    if alias not in caches:
        return [
            checks.Error(
                f"POSTHOG_WEB['FLAGS_CACHE'] is {alias!r}, which is not an alias in "
                "settings.CACHES: every worker would poll the flag definitions itself.",
                hint=f"Use one of {sorted(caches)!r}, or add {alias!r} to CACHES.",
                id="posthog_web.E007",
            )
        ]
    backend = caches[alias].get("BACKEND") if isinstance(caches[alias], dict) else None
    unshared = _UNSHARED_CACHES.get(str(backend))
    if unshared is not None:
        return [
            checks.Warning(
                f"POSTHOG_WEB['FLAGS_CACHE'] is {alias!r}, but {unshared}: it shares the "
                "flag definitions with no other worker, so each one still polls.",
                hint="Point FLAGS_CACHE at a shared cache (Redis, memcached, the database "
                "or file cache), or use FLAGS_CACHE_DIR.",
                id="posthog_web.W006",
            )
        ]
    return []


def check_destination(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Say where events go (an Info): visible whatever the app's ``LOGGING`` is."""
    from posthog_web.django import conf

    try:
        config = conf.build(quiet=True)
    except ImproperlyConfigured:
        return []  # check_settings reports it
    tracker = config.tracker
    if tracker is None:
        message = "nothing is sent: no API_KEY (see posthog_web.W001)"
    else:
        if config.owns_client:
            tracker.client.shutdown(timeout=1.0)
        client = tracker.client
        if client.disabled:
            message = "nothing is sent: POSTHOG_WEB['DISABLED'] is True"
        elif client.api_key == PLACEHOLDER_API_KEY:
            message = (
                f"events go to the local inbox at {client.host} (start it with `posthog-web inbox`)"
            )
        else:
            message = f"events go to {client.host}"
    return [checks.Info(f"posthog-web: {message}.", id="posthog_web.I001")]


def check_posthog_js_file(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when an explicit ``POSTHOG_JS_SRC`` is a static file that no finder can find.

    The default path is checked when the snippet first renders instead (a warning logged
    once): apps that never use the snippet must not be told to ship posthog-js.
    """
    from posthog_web.django import conf

    raw = conf.user_settings()
    if conf.problems(raw) or raw.get("POSTHOG_JS_SRC") is None:
        return []  # check_settings reports problems
    problem = missing_posthog_js(raw["POSTHOG_JS_SRC"])
    if problem is None:
        return []
    return [
        checks.Warning(
            f"{problem}: {{% posthog_snippet %}} would load a 404 and posthog-js would not start.",
            hint=POSTHOG_JS_HINT,
            id="posthog_web.W004",
        )
    ]


#: How to fix a missing posthog-js static file (the check's hint and the tag's warning).
POSTHOG_JS_HINT = (
    "Copy node_modules/posthog-js/dist/array.full.js to <a STATICFILES_DIRS directory>/"
    "posthog-js/array.full.js, or set POSTHOG_JS_SRC (docs/browser.md)."
)


def missing_posthog_js(src: str) -> str | None:
    """Why ``src`` would not load, when it is a static file no finder has; else None."""
    from django.apps import apps

    static_url = getattr(settings, "STATIC_URL", None)
    if (
        not static_url
        or not src.startswith(static_url)
        or not apps.is_installed("django.contrib.staticfiles")
    ):
        return None
    from django.contrib.staticfiles import finders

    name = src[len(static_url) :].split("?", 1)[0]
    if finders.find(name):
        return None
    return f"POSTHOG_JS_SRC is {src!r}, but no static files finder has {name!r}"


def check_middleware(
    app_configs: Sequence[Any] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Check that the middleware is installed, after ``AuthenticationMiddleware``."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or ())
    ours = [i for i, path in enumerate(middleware) if path in _MIDDLEWARE_PATHS]
    if not ours:
        return [
            checks.Warning(
                f"{MIDDLEWARE_PATH!r} is not in MIDDLEWARE: no page views are recorded and "
                "request.posthog is missing.",
                hint=f"Add {MIDDLEWARE_PATH!r} after {_AUTH_MIDDLEWARE!r}.",
                id="posthog_web.W002",
            )
        ]
    if _AUTH_MIDDLEWARE in middleware and ours[0] < middleware.index(_AUTH_MIDDLEWARE):
        return [
            checks.Error(
                f"{MIDDLEWARE_PATH!r} is placed before {_AUTH_MIDDLEWARE!r}, so it cannot "
                "see the logged-in user.",
                hint=f"Move it after {_AUTH_MIDDLEWARE!r}.",
                id="posthog_web.E005",
            )
        ]
    return []


def register() -> None:
    """Register the checks (called from the app's ``ready()``)."""
    checks.register(check_settings, "posthog_web")
    checks.register(check_middleware, "posthog_web")
    checks.register(check_destination, "posthog_web")
    checks.register(check_posthog_js_file, "posthog_web")
