"""Helpers for the inbox tests: event builders and raw-socket HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

TOKEN = "phc_inbox_test_token_1234"
UUID7 = "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01"
UUID4 = "1f0e8e4a-7d1c-4f5e-9a1b-2c3d4e5f6a7b"


def make_event(
    name: str = "signed_up", distinct_id: Any = "user-1", **extra: Any
) -> dict[str, Any]:
    """One capture event object."""
    event: dict[str, Any] = {"event": name, "distinct_id": distinct_id, "properties": {}}
    event.update(extra)
    return event


def batch(*events: dict[str, Any], token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    """The Batch body shape posthog-python sends."""
    return {"api_key": token, "batch": list(events), **extra}


def raw_http(port: int, data: bytes, *, timeout: float = 5.0) -> bytes:
    """Send raw bytes to the inbox and return everything it answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` (bounded) until it is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)
