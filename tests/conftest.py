"""Repository-wide pytest fixtures and the hypothesis profile."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from posthog_web.inbox import InboxServer

pytest_plugins = ["pytester"]

# Deterministic in CI and locally: a red run always means a real fault.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture
def inbox() -> Iterator[InboxServer]:
    """A started in-memory PostHog stand-in on 127.0.0.1 (a free port), stopped afterwards."""
    server = InboxServer(host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()
