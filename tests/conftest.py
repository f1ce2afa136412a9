"""Repository-wide pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from posthog_web.inbox import InboxServer


@pytest.fixture
def inbox() -> Iterator[InboxServer]:
    """A started in-memory PostHog stand-in on 127.0.0.1 (a free port), stopped afterwards."""
    server = InboxServer(host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()
