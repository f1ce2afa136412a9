"""Garbage environs (headers, cookies, paths, queries) through the WSGI middleware: no change."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.web.identity import posthog_cookie_name
from posthog_web.wsgi import PostHogMiddleware
from tests.wsgi.test_middleware import environ, serve

APP_HEADERS = [("Content-Type", "text/html; charset=utf-8"), ("X-App", "1")]
BODY = b"<!doctype html><title>unchanged</title>"
JS_COOKIE = posthog_cookie_name("phc_test")

latin1 = st.binary(max_size=200).map(lambda b: b.decode("latin-1"))
header_keys = st.sampled_from(
    [
        "HTTP_COOKIE",
        "HTTP_HOST",
        "HTTP_USER_AGENT",
        "HTTP_REFERER",
        "HTTP_X_POSTHOG_DISTINCT_ID",
        "HTTP_X_POSTHOG_SESSION_ID",
        "HTTP_X_FORWARDED_FOR",
        "HTTP_SEC_PURPOSE",
        "HTTP_ACCEPT_LANGUAGE",
        "REMOTE_ADDR",
        "REMOTE_USER",
        "SERVER_PORT",
        "SCRIPT_NAME",
    ]
)
cookies = st.builds(
    lambda name, value: f"{name}={value}",
    st.sampled_from(["ph_web_id", "ph_web_session", JS_COOKIE, "x"]),
    latin1
    | st.sampled_from(
        [
            "1.01a028e7-e040-7a11-b222-333344445555....AAAA",
            "%7B%22distinct_id%22%3A%22abc%22%2C%22%24sesid%22%3A%5B1%2C%222%22%5D%7D",
        ]
    ),
)
extras = st.dictionaries(header_keys, latin1, max_size=8)


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def failures() -> Iterator[_Failures]:
    handler = _Failures()
    logger = logging.getLogger("posthog_web")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope="module")
def middleware(failures: _Failures) -> Iterator[PostHogMiddleware]:
    client = Client("phc_test", transport=RecorderTransport(), flush_interval=0.05)

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", list(APP_HEADERS))
        return [BODY]

    try:
        yield PostHogMiddleware(app, client=client, secret_key="fuzz", trusted_proxies=["*"])
    finally:
        client.shutdown(timeout=5)


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    extra=extras,
    cookie=st.none() | cookies,
    path=latin1.map(lambda p: "/" + p),
    query=latin1,
    method=st.sampled_from(["GET", "POST", "HEAD", "get", "OPTIONS"]),
    scheme=st.sampled_from(["http", "https", "weird"]),
)
def test_garbage_environs_never_change_the_response(
    middleware: PostHogMiddleware,
    failures: _Failures,
    extra: dict[str, str],
    cookie: str | None,
    path: str,
    query: str,
    method: str,
    scheme: str,
) -> None:
    if cookie is not None:
        extra = {**extra, "HTTP_COOKIE": cookie}
    env = environ(path, method, QUERY_STRING=query, **extra)
    env["wsgi.url_scheme"] = scheme
    served = serve(middleware, env)
    assert served.status == "200 OK"
    assert served.headers[: len(APP_HEADERS)] == APP_HEADERS
    added = served.headers[len(APP_HEADERS) :]
    assert {name for name, _ in added} <= {"Set-Cookie", "Cache-Control", "Vary"}
    if added:  # a response that sets a cookie is this visitor's: never shared-cached
        assert ("Cache-Control", "private") in added
        assert ("Vary", "Cookie") in added
    assert served.chunks == [BODY]
    # Robust, not merely guarded: no package error was swallowed on the way.
    assert [m for m in failures.messages if "failed" in m] == []
