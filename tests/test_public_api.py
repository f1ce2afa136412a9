"""The public names: every one listed here must stay importable where the docs say it is.

Internal modules may move; these may not. Adding a name is fine; removing or renaming one
fails here first (say so in the changelog and keep the old name working instead).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

#: module -> the names documented in README.md, docs/*.md and the examples.
PUBLIC_NAMES: dict[str, set[str]] = {
    "posthog_web": {"Client", "DeliveryError", "EU_HOST", "US_HOST", "__version__", "current"},
    "posthog_web.delivery": {
        "DeliveryError",
        "RecorderTransport",
        "RequestsTransport",
        "Response",
        "Transport",
        "TransportError",
    },
    # The path docs/delivery.md gave custom transports first.
    "posthog_web.transport": {
        "RecorderTransport",
        "RequestsTransport",
        "Response",
        "Transport",
        "TransportError",
    },
    "posthog_web.django": {"PostHogHttpRequest", "PostHogMiddleware"},
    "posthog_web.django.conf": {"DEFAULTS", "default_person_properties", "get_config"},
    "posthog_web.asgi": {"PostHogMiddleware"},
    "posthog_web.fastapi": {"PostHog", "get_posthog"},
    "posthog_web.web.option_args": {"TrackerOptionArgs"},
    "posthog_web.wsgi": {"PostHogMiddleware"},
    "posthog_web.flask": {"PostHog"},
    "posthog_web.web.settings": {"DEFAULTS", "default_person_properties"},
    "posthog_web.inbox": {"FaultInjector", "InboxServer", "RecordedRequest"},
    "posthog_web.snippet": {"posthog_snippet"},
    "posthog_web.events": {"is_illegal_distinct_id"},
    "posthog_web.web": {"RequestView", "ResponseView", "SetCookie"},
    "posthog_web.tracker": {"Tracker", "TrackerOptions"},
    # The homes the docs name since the request layer moved into web/ (issue 14); the
    # old paths above stay as re-exports.
    "posthog_web.web.tracker": {"Tracker", "TrackerOptions"},
    "posthog_web.web.options": {"TrackerOptions"},
    "posthog_web.web.snippet": {"posthog_snippet"},
    "posthog_web.web.caching": {"private_cache_headers"},
    "posthog_web.caching": {"private_cache_headers"},
    "posthog_web.testing": {"posthog_events", "pytest_addoption", "pytest_configure"},
    "posthog_web.__main__": {"main"},
}

#: Client method -> its parameters (keywords are public too).
CLIENT_SIGNATURES: dict[str, list[str]] = {
    "__init__": [
        "api_key",
        "host",
        "sync_mode",
        "disabled",
        "flush_at",
        "flush_interval",
        "max_queue_size",
        "max_batch_size",
        "gzip",
        "max_retries",
        "timeout",
        "exit_flush_timeout",
        "spool_dir",
        "spool_max_bytes",
        "allow_insecure_http",
        "transport",
    ],
    "capture": ["event", "distinct_id", "properties", "timestamp", "uuid"],
    "page": ["distinct_id", "name", "url", "properties", "timestamp"],
    "screen": ["distinct_id", "name", "properties", "timestamp"],
    "identify": ["distinct_id", "properties", "properties_once", "anon_distinct_id", "timestamp"],
    "alias": ["distinct_id", "alias", "timestamp"],
    "enqueue": ["event"],
    "flush": ["timeout"],
    "shutdown": ["timeout"],
    "stats": [],
}

#: ``request.posthog`` / ``request.state.posthog`` / ``posthog_web.current()``.
REQUEST_HELPER = {
    "alias",
    "capture",
    "distinct_id",
    "identify",
    "is_identified",
    "login",
    "logout",
    "page",
    "posthog_js",
    "screen",
    "session_id",
}

ASGI_MIDDLEWARE_KEYWORDS = {
    "app",
    "api_key",
    "host",
    "local_inbox",
    "client",
    "distinct_id",
    "person_properties",
    "secret_key",
    "flush_timeout",
}

WSGI_MIDDLEWARE_KEYWORDS = ASGI_MIDDLEWARE_KEYWORDS - {"flush_timeout"}

INBOX_SERVER = {
    "clear",
    "events",
    "faults",
    "merge_refusals",
    "persons",
    "port",
    "requests",
    "sessions",
    "start",
    "stop",
    "url",
    "wait_for_events",
}

SNIPPET_KEYWORDS = {"request", "script_src", "api_host", "capture_pageview", "options", "nonce"}

#: ``POSTHOG_WEB`` keys (Django); the tracker's lower-case options are checked below.
DJANGO_SETTINGS = {
    "ALLOW_INSECURE_HTTP",
    "ANONYMOUS_COOKIE_NAME",
    "API_KEY",
    "BOT_PAGEVIEWS",
    "BOT_USER_AGENTS",
    "CAPTURE_TRACING_HEADERS",
    "CLIENT",
    "COOKIELESS_MODE",
    "COOKIE_DOMAIN",
    "COOKIE_MAX_AGE",
    "COOKIE_SECRET",
    "COOKIE_SECURE",
    "DISABLED",
    "DISTINCT_ID",
    "EXCLUDE_PATHS",
    "FILTER_BOTS",
    "FLUSH_AT",
    "FLUSH_INTERVAL",
    "GZIP",
    "HOST",
    "INCLUDE_PATHS",
    "IP_MODE",
    "KEPT_QUERY_PARAMS",
    "MASKED_QUERY_PARAMS",
    "MAX_QUEUE_SIZE",
    "MAX_RETRIES",
    "PERSON_PROFILES",
    "PERSON_PROPERTIES",
    "POSTHOG_JS_API_HOST",
    "POSTHOG_JS_OPTIONS",
    "POSTHOG_JS_SRC",
    "QUERY_ALLOWLIST",
    "READ_POSTHOG_JS_COOKIE",
    "RECORD_PAGEVIEW",
    "RESPECT_DNT",
    "RESPECT_GPC",
    "SESSION_COOKIE_NAME",
    "SESSION_IDLE_TIMEOUT_SECONDS",
    "SPOOL_DIR",
    "SPOOL_MAX_BYTES",
    "STATIC_PREFIXES",
    "SYNC_MODE",
    "TIMEOUT",
    "TRUSTED_PROXIES",
}

TRACKER_OPTIONS = {
    "exclude_paths",
    "include_paths",
    "static_prefixes",
    "record_pageview",
    "person_profiles",
    "anonymous_cookie_name",
    "cookie_secret",
    "cookie_max_age",
    "cookie_secure",
    "cookie_domain",
    "capture_tracing_headers",
    "read_posthog_js_cookie",
    "session_idle_timeout_seconds",
    "filter_bots",
    "bot_user_agents",
    "bot_pageviews",
    "session_cookie_name",
    "posthog_js_src",
    "posthog_js_api_host",
    "posthog_js_options",
    "masked_query_params",
    "kept_query_params",
    "query_allowlist",
    "trusted_proxies",
    "ip_mode",
    "respect_gpc",
    "respect_dnt",
    "cookieless_mode",
}


def _missing(expected: set[str], present: set[str]) -> list[str]:
    return sorted(expected - present)


@pytest.mark.parametrize("module_name", sorted(PUBLIC_NAMES))
def test_documented_names_are_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    present = {name for name in PUBLIC_NAMES[module_name] if hasattr(module, name)}
    assert _missing(PUBLIC_NAMES[module_name], present) == []


def test_the_package_all_lists_its_public_names() -> None:
    import posthog_web

    assert set(posthog_web.__all__) >= PUBLIC_NAMES["posthog_web"]
    assert callable(posthog_web.current)
    assert issubclass(posthog_web.DeliveryError, Exception)


def test_one_delivery_error_under_every_documented_name() -> None:
    import posthog_web
    import posthog_web.delivery

    assert posthog_web.DeliveryError is posthog_web.delivery.DeliveryError


@pytest.mark.parametrize("method", sorted(CLIENT_SIGNATURES))
def test_client_methods_keep_their_parameters(method: str) -> None:
    from posthog_web import Client

    parameters = list(inspect.signature(getattr(Client, method)).parameters)[1:]
    assert parameters[: len(CLIENT_SIGNATURES[method])] == CLIENT_SIGNATURES[method]


def test_the_request_helper_keeps_its_operations() -> None:
    from posthog_web.fastapi import PostHog

    # PostHog is Annotated[RequestHelper, Depends(...)]: the helper's class, by a public path.
    helper_class = typing.get_args(PostHog)[0]
    assert _missing(REQUEST_HELPER, set(dir(helper_class))) == []


def _keywords(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_adapter_and_inbox_signatures_keep_their_keywords() -> None:
    from posthog_web.asgi import PostHogMiddleware
    from posthog_web.inbox import InboxServer
    from posthog_web.snippet import posthog_snippet

    assert _missing(ASGI_MIDDLEWARE_KEYWORDS, _keywords(PostHogMiddleware.__init__)) == []
    wsgi = importlib.import_module("posthog_web.wsgi").PostHogMiddleware
    assert _missing(WSGI_MIDDLEWARE_KEYWORDS, _keywords(wsgi.__init__)) == []
    flask_extension = importlib.import_module("posthog_web.flask").PostHog
    assert _missing({"app"}, _keywords(flask_extension.__init__)) == []
    assert _missing({"init_app", "login", "logout", "user_loader"}, set(dir(flask_extension))) == []
    assert _missing({"host", "port", "db_path"}, _keywords(InboxServer.__init__)) == []
    assert _missing(INBOX_SERVER, set(dir(InboxServer))) == []
    assert _missing(SNIPPET_KEYWORDS, _keywords(posthog_snippet)) == []


def test_django_settings_keys_and_tracker_options_stay() -> None:
    from posthog_web.django.conf import DEFAULTS
    from posthog_web.tracker import TrackerOptions

    assert _missing(DJANGO_SETTINGS, set(DEFAULTS)) == []
    fields = {field.name for field in dataclasses.fields(TrackerOptions)}
    assert _missing(TRACKER_OPTIONS, fields) == []
    # Every tracker option is also a Django setting, under its upper-case name.
    assert _missing({name.upper() for name in TRACKER_OPTIONS}, set(DEFAULTS)) == []
    # Flask's app.config["POSTHOG_WEB"] reads the very same keys.
    assert importlib.import_module("posthog_web.web.settings").DEFAULTS is DEFAULTS


def test_django_template_tag_and_management_command_stay() -> None:
    tags = importlib.import_module("posthog_web.django.templatetags.posthog_web")
    assert "posthog_snippet" in tags.register.tags
    command = importlib.import_module("posthog_web.django.management.commands.posthog_check")
    assert hasattr(command, "Command")


def test_the_cli_and_the_pytest_plugin_are_installed_entry_points() -> None:
    scripts = importlib.metadata.entry_points(group="console_scripts", name="posthog-web")
    assert [entry.value for entry in scripts] == ["posthog_web.__main__:main"]
    plugins = importlib.metadata.entry_points(group="pytest11", name="posthog_web")
    assert [entry.value for entry in plugins] == ["posthog_web.testing"]
    assert callable(scripts["posthog-web"].load())
    assert plugins["posthog_web"].load() is importlib.import_module("posthog_web.testing")
