"""Fixtures for the flags tests: the stand-in server and clients pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from posthog_web import Client
from tests.flags.server import SECRET, TOKEN, FlagsServer

MakeClient = Callable[..., Client]


@pytest.fixture
def flags_server() -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def flags_client(flags_server: FlagsServer) -> Iterator[Callable[..., Client]]:
    """Build clients on the server (local evaluation unless ``flags_secret_key=None``)."""
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("flags_secret_key", SECRET)
        options.setdefault("sync_mode", True)
        options.setdefault("flags_timeout", 1.0)
        client = Client(TOKEN, host=flags_server.url, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.shutdown(timeout=1.0)
