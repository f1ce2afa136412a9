"""Fixtures for the security tests: one inbox per module, sync clients, a log watcher.

The clients post each event at once (``sync_mode``), so an event the inbox refuses is
seen by the very request (the very hypothesis case) that produced it.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import pytest

from posthog_web import Client
from posthog_web.inbox import InboxServer

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import starlette.testclient  # noqa: F401

API_KEY = "phc_security_test_key_0123456789"


class LogWatcher(logging.Handler):
    """Everything posthog-web logged, for "nothing failed" and "nothing leaked" checks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(self.format(r) for r in self.records)

    def failures(self) -> list[str]:
        return [r.getMessage() for r in self.records if "failed" in r.getMessage()]

    def clear(self) -> None:
        self.records.clear()


@pytest.fixture(scope="module")
def shared_inbox() -> Iterator[InboxServer]:
    """One inbox for the whole module (starting one per hypothesis case would be slow)."""
    server = InboxServer(host="127.0.0.1", port=0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sync_client(shared_inbox: InboxServer) -> Iterator[Client]:
    client = Client(API_KEY, host=shared_inbox.url, sync_mode=True, gzip=False, max_retries=0)
    try:
        yield client
    finally:
        client.shutdown(timeout=5)


@pytest.fixture
def inbox(shared_inbox: InboxServer) -> InboxServer:
    """The module's inbox, emptied for this test."""
    shared_inbox.clear()
    return shared_inbox


@pytest.fixture(scope="module")
def module_logs() -> Iterator[LogWatcher]:
    watcher = LogWatcher()
    logger = logging.getLogger("posthog_web")
    previous = logger.level
    logger.addHandler(watcher)
    logger.setLevel(logging.DEBUG)
    try:
        yield watcher
    finally:
        logger.removeHandler(watcher)
        logger.setLevel(previous)


@pytest.fixture
def logs(module_logs: LogWatcher) -> LogWatcher:
    module_logs.clear()
    return module_logs


def accepted(inbox: InboxServer, since: int = 0) -> list[dict[str, object]]:
    """Assert every capture request since index ``since`` was accepted; return the events."""
    requests = inbox.requests[since:]
    refused = [(r.status, r.error) for r in requests if r.status != 200 or r.error]
    assert not refused, f"the inbox refused: {refused}"
    return [event for r in requests for event in _events(r.decoded())]


def _events(body: object) -> list[dict[str, object]]:
    if isinstance(body, dict) and isinstance(body.get("batch"), list):
        return list(body["batch"])
    if isinstance(body, list):
        return body
    assert isinstance(body, dict)
    return [body]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
