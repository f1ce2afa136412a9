"""Garbage headers, cookies, paths and queries through the real middleware change nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.delivery import RecorderTransport
from posthog_web.web.identity import posthog_cookie_name
from tests.asgi.helpers import call, http_scope, run

APP_HEADERS = [(b"content-type", b"text/html; charset=utf-8"), (b"x-app", b"1")]
BODY = b"<!doctype html><h1>unchanged</h1>"
JS_COOKIE = posthog_cookie_name("phc_test").encode()

header_names = st.sampled_from(
    [
        b"cookie",
        b"host",
        b"user-agent",
        b"referer",
        b"x-posthog-distinct-id",
        b"x-posthog-session-id",
        b"x-posthog-window-id",
        b"hx-request",
        b"sec-purpose",
        b"accept-language",
    ]
) | st.binary(min_size=0, max_size=20)
cookie_values = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda name, value: name + b"=" + value,
        st.sampled_from([b"ph_web_id", JS_COOKIE, b"x"]),
        st.binary(max_size=300)
        | st.sampled_from(
            [
                b"1.01a028e7-e040-7a11-b222-333344445555....AAAA",
                b"%7B%22distinct_id%22%3A%22abc%22%2C%22%24sesid%22%3A%5B1%2C%222%22%5D%7D",
                b'{"distinct_id":null}',
            ]
        ),
    ),
)
headers = st.lists(
    st.tuples(header_names, st.binary(max_size=200)) | st.tuples(st.just(b"cookie"), cookie_values),
    max_size=12,
)


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

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(APP_HEADERS)})
        await send({"type": "http.response.body", "body": BODY})

    try:
        yield PostHogMiddleware(app, client=client, secret_key="fuzz")
    finally:
        client.shutdown(timeout=5)


@settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    headers=headers,
    path=st.text(max_size=60).map(lambda p: "/" + p),
    query=st.binary(max_size=80),
    method=st.sampled_from(["GET", "POST", "HEAD", "get", "OPTIONS"]),
    scheme=st.sampled_from(["http", "https", "weird"]),
    client_addr=st.none() | st.tuples(st.text(max_size=20), st.integers(0, 65535)),
)
def test_garbage_requests_never_change_the_response(
    middleware: PostHogMiddleware,
    failures: _Failures,
    headers: list[tuple[bytes, bytes]],
    path: str,
    query: bytes,
    method: str,
    scheme: str,
    client_addr: Any,
) -> None:
    scope = http_scope(
        path,
        method=method,
        headers=headers,
        query_string=query,
        scheme=scheme,
        client=client_addr,
    )
    messages = run(call(middleware, scope))
    start, body = messages
    assert start["status"] == 200
    assert start["headers"][: len(APP_HEADERS)] == APP_HEADERS
    added = start["headers"][len(APP_HEADERS) :]
    assert {name for name, _ in added} <= {b"set-cookie", b"cache-control", b"vary"}
    if added:  # a response that sets a cookie is this visitor's: never shared-cached
        assert (b"cache-control", b"private") in added
        assert (b"vary", b"Cookie") in added
    assert body == {"type": "http.response.body", "body": BODY}
    # Robust, not merely guarded: no package error was swallowed on the way.
    assert [m for m in failures.messages if "failed" in m] == []
