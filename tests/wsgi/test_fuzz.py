"""Garbage environs (headers, cookies, paths, queries) through the WSGI middleware: no change.

The strategies and the checks are tests/hostile.py's, shared with tests/asgi/test_fuzz.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.wsgi import PostHogMiddleware
from tests import hostile
from tests.wsgi.test_middleware import environ, serve

environ_keys = st.sampled_from(
    ["HTTP_" + name.upper().replace("-", "_") for name in hostile.HEADER_NAMES]
    + hostile.ENVIRON_KEYS
)
extras = st.dictionaries(environ_keys, hostile.header_values, max_size=8)


@pytest.fixture(scope="module")
def stand() -> Iterator[hostile.StandIn]:
    with hostile.stand_in() as stand:
        yield stand


@pytest.fixture(scope="module")
def middleware(stand: hostile.StandIn) -> PostHogMiddleware:
    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", list(hostile.APP_HEADERS))
        return [hostile.BODY]

    return PostHogMiddleware(app, client=stand.client, secret_key="fuzz", trusted_proxies=["*"])


@hostile.fuzz_settings
@given(
    extra=extras,
    cookie=st.none() | hostile.cookie_headers,
    path=hostile.paths,
    query=hostile.queries,
    method=hostile.methods,
    scheme=hostile.schemes,
)
def test_garbage_environs_never_change_the_response(
    middleware: PostHogMiddleware,
    stand: hostile.StandIn,
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
    assert served.chunks == [hostile.BODY]
    stand.check(served.headers, b"".join(served.chunks))
