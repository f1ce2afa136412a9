from __future__ import annotations

from collections.abc import Iterator

import pytest

from posthog_web import Client
from posthog_web.delivery import RecorderTransport


@pytest.fixture
def recorder() -> RecorderTransport:
    """An in-memory transport for unit tests of what the request layer (web/) builds."""
    return RecorderTransport()


@pytest.fixture
def client(recorder: RecorderTransport) -> Iterator[Client]:
    """A background client that sends to ``recorder``."""
    client = Client("phc_test", transport=recorder, flush_interval=0.05)
    yield client
    client.shutdown(timeout=5)
