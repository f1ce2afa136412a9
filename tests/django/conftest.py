"""Fixtures for the Django integration tests: a client pointed at the inbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.inbox import InboxServer


class Harness:
    """The inbox, the client the integration uses, and a way to change ``POSTHOG_WEB``."""

    def __init__(self, inbox: InboxServer, client: Client, settings: Any) -> None:
        self.inbox = inbox
        self.client = client
        self._settings = settings
        self.configure()

    def configure(self, **keys: Any) -> None:
        self._settings.POSTHOG_WEB = {"CLIENT": self.client, **keys}

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """Everything the inbox stored once the client has flushed (bounded)."""
        assert self.client.flush(timeout=10.0)
        return self.inbox.events(event)

    def pageviews(self) -> list[dict[str, Any]]:
        return self.events("$pageview")


@pytest.fixture
def posthog(inbox: InboxServer, settings: Any) -> Iterator[Harness]:
    client = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield Harness(inbox, client, settings)
    finally:
        client.shutdown(timeout=5.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
