"""The API key stays out of logs, exceptions, reprs and the inbox page; bad keys and hosts
are refused by both integrations at start-up, with messages that name the problem."""

from __future__ import annotations

import logging
import urllib.request
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as DjangoClient
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.django import conf
from posthog_web.inbox import InboxServer
from tests.security.asgi_apps import bare_app, starlette_app

KEY = "phc_TOPSECRETprojectkey0123456789abcd"


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_the_key_is_never_logged_shown_or_raised(
    inbox: InboxServer, all_logs: pytest.LogCaptureFixture, settings: Any
) -> None:
    client = Client(KEY, host=inbox.url, flush_interval=0.05, max_retries=1)
    texts: list[str] = [repr(client), str(client)]
    try:
        settings.ROOT_URLCONF = "tests.security.django_app"
        settings.POSTHOG_WEB = {"CLIENT": client}
        django_response = DjangoClient().get("/page/?api_key=" + KEY)
        assert django_response.status_code == 200
        config = conf.get_config()
        texts += [repr(config), repr(config.tracker)]
        middleware = PostHogMiddleware(bare_app, client=client)
        texts += [repr(middleware), repr(middleware.tracker)]
        with TestClient(starlette_app(client)) as http:
            assert http.get("/page").status_code == 200
        inbox.faults.fail_next(3, status=401)  # rejected deliveries are logged
        with TestClient(starlette_app(client)) as http:
            assert http.get("/again").status_code == 200
        client.flush(timeout=10)
        assert client.stats()["dropped"] >= 1
    finally:
        client.shutdown(timeout=5)
    with urllib.request.urlopen(inbox.url + "/", timeout=5) as page:
        texts.append(page.read().decode())
    texts += [r.getMessage() for r in all_logs.records]
    texts += [str(r.exc_info[1]) for r in all_logs.records if r.exc_info]
    assert inbox.events(), "events were delivered"
    for text in texts:
        assert KEY not in text


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("phx_personalKEYdoNotLeak0123", "personal API key"),
        ("  ", "api_key is empty"),
        ("phc_" + "k" * 80, "at most 64"),
    ],
)
def test_bad_keys_are_refused_by_both_integrations(key: str, message: str, settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": key}
    with pytest.raises(ImproperlyConfigured, match=message) as django_error:
        conf.build()
    with pytest.raises(ValueError, match=message) as asgi_error:
        PostHogMiddleware(bare_app, api_key=key)
    for error in (django_error.value, asgi_error.value):
        assert key.strip() not in str(error) or not key.strip()


def test_http_hosts_are_refused_unless_loopback_or_allowed(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": KEY, "HOST": "http://posthog.internal.example"}
    with pytest.raises(ImproperlyConfigured, match="uses http"):
        conf.build()
    with pytest.raises(ValueError, match="uses http"):
        PostHogMiddleware(bare_app, api_key=KEY, host="http://posthog.internal.example")
    settings.POSTHOG_WEB = {
        "API_KEY": KEY,
        "HOST": "http://posthog.internal.example",
        "ALLOW_INSECURE_HTTP": True,
        "DISABLED": True,
    }
    config = conf.build(quiet=True)
    assert config.tracker is not None
    assert config.tracker.client.host == "http://posthog.internal.example"
    for loopback in ("http://127.0.0.1:8010", "http://localhost:8000", "http://[::1]:80"):
        settings.POSTHOG_WEB = {"API_KEY": KEY, "HOST": loopback, "DISABLED": True}
        assert conf.build(quiet=True).tracker is not None
        PostHogMiddleware(bare_app, api_key=KEY, host=loopback)


def test_privacy_settings_are_checked_at_start_up(settings: Any) -> None:
    for bad, message in (
        ({"TRUSTED_PROXIES": ["10.0.0.0/99"]}, "trusted_proxies"),
        ({"TRUSTED_PROXIES": "10.0.0.1"}, "TRUSTED_PROXIES"),
        ({"IP_MODE": "partial"}, "ip_mode"),
        ({"COOKIELESS_MODE": "server_hash", "IP_MODE": "off"}, "needs the visitor"),
        ({"ANONYMOUS_COOKIE_NAME": "a b"}, "cookie token"),
    ):
        settings.POSTHOG_WEB = {"API_KEY": KEY, "DISABLED": True, **bad}
        with pytest.raises(ImproperlyConfigured, match=message):
            conf.build(quiet=True)
    with pytest.raises(ValueError, match="trusted_proxies"):
        PostHogMiddleware(bare_app, api_key=KEY, trusted_proxies=["nope"])
    with pytest.raises(ValueError, match="cookie_domain"):
        PostHogMiddleware(bare_app, api_key=KEY, cookie_domain="a.example\r\nX-Evil: 1")


PRIVACY_KEYS = {
    "MASKED_QUERY_PARAMS": ["coupon"],
    "KEPT_QUERY_PARAMS": ["state"],
    "QUERY_ALLOWLIST": True,
    "TRUSTED_PROXIES": ["10.0.0.0/8", "unix"],
    "IP_MODE": "anonymize",
    "RESPECT_GPC": False,
    "RESPECT_DNT": True,
    "COOKIELESS_MODE": "per_request",
}


def test_privacy_options_reach_the_tracker_from_both_integrations(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": KEY, "DISABLED": True, **PRIVACY_KEYS}
    tracker = conf.build(quiet=True).tracker
    assert tracker is not None
    middleware = PostHogMiddleware(
        bare_app,
        client=Client(KEY, disabled=True),
        **{key.lower(): value for key, value in PRIVACY_KEYS.items()},
    )
    assert middleware.tracker is not None
    for options in (tracker.options, middleware.tracker.options):
        for key, value in PRIVACY_KEYS.items():
            got = getattr(options, key.lower())
            assert got == (tuple(value) if isinstance(value, list) else value), key
