"""Fixtures for the ASGI integration tests: a client that sends to the inbox."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from posthog_web import Client
from posthog_web.inbox import InboxServer

# Starlette 1.x warns once, at import, that its TestClient prefers httpx2 to httpx.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import starlette.testclient  # noqa: F401


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    """A background client sending to the inbox every 50 ms."""
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)
