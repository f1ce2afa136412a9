"""Garbage headers, cookies, paths and queries through the real middleware change nothing.

The strategies and the checks are tests/hostile.py's, shared with tests/wsgi/test_fuzz.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.asgi import PostHogMiddleware
from tests import hostile
from tests.asgi.helpers import call, http_scope, run

headers = st.lists(
    st.tuples(hostile.header_names, hostile.header_values)
    | st.tuples(st.just("cookie"), hostile.cookie_headers),
    max_size=12,
).map(lambda pairs: [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs])
APP_HEADERS = [(name.encode(), value.encode()) for name, value in hostile.APP_HEADERS]


@pytest.fixture(scope="module")
def stand() -> Iterator[hostile.StandIn]:
    with hostile.stand_in() as stand:
        yield stand


@pytest.fixture(scope="module")
def middleware(stand: hostile.StandIn) -> PostHogMiddleware:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(APP_HEADERS)})
        await send({"type": "http.response.body", "body": hostile.BODY})

    return PostHogMiddleware(app, client=stand.client, secret_key="fuzz")


@hostile.fuzz_settings
@given(
    headers=headers,
    path=st.text(max_size=60).map(lambda p: "/" + p) | hostile.paths,
    query=hostile.queries.map(lambda q: q.encode("latin-1")),
    method=hostile.methods,
    scheme=hostile.schemes,
    client_addr=st.none() | st.tuples(st.text(max_size=20), st.integers(0, 65535)),
)
def test_garbage_requests_never_change_the_response(
    middleware: PostHogMiddleware,
    stand: hostile.StandIn,
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
    start, body = run(call(middleware, scope))
    assert start["status"] == 200
    assert body == {"type": "http.response.body", "body": hostile.BODY}
    sent = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in start["headers"]]
    stand.check(sent, body["body"])
