"""Where events go without an API key: a local inbox, or nowhere (posthog_web.web.fallback)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.test import Client as DjangoClient
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from posthog_web import US_HOST
from posthog_web.asgi import PostHogMiddleware
from posthog_web.django import conf
from posthog_web.inbox import InboxServer
from posthog_web.web.fallback import LOCAL_INBOX_URL, PLACEHOLDER_API_KEY, keyless_host

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"}


def _page(request: Any) -> HTMLResponse:
    return HTMLResponse("<!doctype html><title>Home</title>")


APP = Starlette(routes=[Route("/", _page)])


@pytest.mark.parametrize(
    ("host", "local_inbox", "expected"),
    [
        (None, False, None),
        (None, True, LOCAL_INBOX_URL),
        ("http://127.0.0.1:9000", False, "http://127.0.0.1:9000"),
        ("http://localhost:9000/", True, "http://localhost:9000/"),
        ("http://[::1]:9000", False, "http://[::1]:9000"),
        ("https://eu.i.posthog.com", True, None),
        ("not a url", True, None),
    ],
)
def test_keyless_host(host: str | None, local_inbox: bool, expected: str | None) -> None:
    assert keyless_host(host, local_inbox=local_inbox) == expected


def test_asgi_local_inbox_option(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="posthog_web"):
        middleware = PostHogMiddleware(APP, local_inbox=True, secret_key="s")
    assert middleware.tracker is not None
    assert middleware.tracker.client.host == LOCAL_INBOX_URL
    assert f"events go to the local inbox at {LOCAL_INBOX_URL}" in caplog.text


def test_asgi_api_key_wins_over_local_inbox(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="posthog_web"):
        middleware = PostHogMiddleware(APP, api_key="phc_real", local_inbox=True, secret_key="s")
    assert middleware.tracker is not None
    assert middleware.tracker.client.host == US_HOST
    assert f"sending events to {US_HOST}" in caplog.text
    middleware.tracker.client.shutdown(timeout=1)


def test_asgi_without_a_key_a_remote_host_is_disabled(caplog: pytest.LogCaptureFixture) -> None:
    middleware = PostHogMiddleware(
        APP, host="https://eu.i.posthog.com", local_inbox=True, secret_key="s"
    )
    assert middleware.tracker is None
    assert caplog.text.count("disabled") == 1


def test_asgi_local_inbox_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="local_inbox"):
        PostHogMiddleware(APP, local_inbox="yes")  # type: ignore[arg-type]


def test_asgi_loopback_host_without_a_key_sends_to_it(inbox: InboxServer) -> None:
    app = PostHogMiddleware(APP, host=inbox.url, secret_key="s")
    with TestClient(app, headers=BROWSER) as http:  # the lifespan flushes on exit
        http.get("/")
    [pageview] = inbox.events("$pageview")
    assert pageview["api_key"] == PLACEHOLDER_API_KEY


@pytest.mark.django_db
@pytest.mark.urls("tests.testing.django_shop")
def test_django_loopback_host_without_a_key_sends_to_it(
    inbox: InboxServer, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    settings.DEBUG = False
    settings.POSTHOG_WEB = {"HOST": inbox.url, "FLUSH_INTERVAL": 0.05}
    DjangoClient(headers=BROWSER).get("/pricing/")
    config = conf.get_config()
    assert config.tracker is not None
    assert config.tracker.client.flush(timeout=10)
    [pageview] = inbox.events("$pageview")
    assert pageview["api_key"] == PLACEHOLDER_API_KEY
