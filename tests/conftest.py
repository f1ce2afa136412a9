"""Repository-wide pytest fixtures and the hypothesis profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from posthog_web import Client
from posthog_web.inbox import InboxServer
from tests.core.helpers import MakeClient, free_port

pytest_plugins = ["pytester"]
pytest.register_assert_rewrite("tests.gunicorn_workers", "tests.workers_contract", "tests.hostile")

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


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def make_client(inbox: InboxServer) -> Iterator[MakeClient]:
    """Clients sending to the test inbox, quick to retry; all shut down after the test."""
    clients: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("host", inbox.url)
        options.setdefault("flush_interval", 0.05)
        options.setdefault("timeout", 5.0)
        base_delay = options.pop("retry_base_delay", 0.01)
        client = Client("phc_test", **options)
        client._sender.options.retry_base_delay = base_delay
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=1)
