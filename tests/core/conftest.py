from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.inbox import InboxServer
from posthog_web.transport import RecorderTransport
from tests.core.helpers import MakeClient, free_port


@pytest.fixture
def recorder() -> RecorderTransport:
    """An in-memory transport for unit tests of what the request layer builds."""
    return RecorderTransport()


@pytest.fixture
def client(recorder: RecorderTransport) -> Iterator[Client]:
    """A background client that sends to ``recorder``."""
    client = Client("phc_test", transport=recorder, flush_interval=0.05)
    yield client
    client.shutdown(timeout=5)


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
