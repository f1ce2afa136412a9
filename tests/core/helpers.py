from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Callable
from typing import Any

from posthog_web import Client

#: The ``make_client`` fixture (tests/conftest.py): options -> a client to the test inbox.
MakeClient = Callable[..., Client]


def decode_body(body: bytes) -> Any:
    """The JSON of a request body as the client sent it (gzip or not)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return json.loads(body)


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_requests(inbox: Any, count: int, timeout: float = 10.0) -> None:
    """Wait (bounded) until the inbox has seen ``count`` capture requests."""
    import time

    deadline = time.monotonic() + timeout
    while len(inbox.requests) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the inbox saw {len(inbox.requests)} requests, not {count}")
        time.sleep(0.01)
