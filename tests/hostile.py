"""The hostile-input harness of the ASGI and WSGI fuzz tests (tests/asgi/test_fuzz.py,
tests/wsgi/test_fuzz.py): the strategies, the stand-in the middleware sends to, and the
checks every garbage request must pass.

Strategies give text whose characters are bytes (latin-1), what WSGI's environ holds;
an ASGI test encodes it back to the bytes of its scope. The examples are drawn under
the fixed hypothesis profile of tests/conftest.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.inbox.validation import Accepted, validate_capture
from posthog_web.web.identity import posthog_cookie_name

APP_HEADERS = [("content-type", "text/html; charset=utf-8"), ("x-app", "1")]
BODY = b"<!doctype html><title>unchanged</title><h1>unchanged</h1>"
ADDED_HEADERS = {"set-cookie", "cache-control", "vary"}

fuzz_settings = settings(
    max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def latin1(max_size: int) -> st.SearchStrategy[str]:
    """Any bytes, as the text WSGI gives them (and ASGI gets back with ``.encode("latin-1")``)."""
    return st.binary(max_size=max_size).map(lambda raw: raw.decode("latin-1"))


# The request headers the package reads, and any other name.
HEADER_NAMES = [
    "cookie",
    "host",
    "user-agent",
    "referer",
    "x-posthog-distinct-id",
    "x-posthog-session-id",
    "x-posthog-window-id",
    "x-forwarded-for",
    "hx-request",
    "sec-purpose",
    "accept-language",
]
header_names = st.sampled_from(HEADER_NAMES) | latin1(20)
header_values = latin1(200)
# What WSGI servers put in the environ beside the headers.
ENVIRON_KEYS = ["REMOTE_ADDR", "REMOTE_USER", "SERVER_PORT", "SCRIPT_NAME"]

COOKIE_NAMES = ["ph_web_id", "ph_web_session", posthog_cookie_name("phc_test"), "x"]
# Nearly valid values: our cookie's shape with an empty signature, posthog-js's cookie
# with a bad $sesid, posthog-js's cookie with a null id.
COOKIE_SAMPLES = [
    "1.01a028e7-e040-7a11-b222-333344445555....AAAA",
    "%7B%22distinct_id%22%3A%22abc%22%2C%22%24sesid%22%3A%5B1%2C%222%22%5D%7D",
    '{"distinct_id":null}',
]
cookie_headers = latin1(300) | st.builds(
    lambda name, value: f"{name}={value}",
    st.sampled_from(COOKIE_NAMES),
    latin1(300) | st.sampled_from(COOKIE_SAMPLES),
)
paths = latin1(200).map(lambda path: "/" + path)
queries = latin1(200)
methods = st.sampled_from(["GET", "POST", "HEAD", "get", "OPTIONS"])
schemes = st.sampled_from(["http", "https", "weird"])


class _Failures(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class StandIn:
    """The client a fuzzed middleware sends with, what it recorded, and the package's
    warnings; :meth:`check` runs the checks after each garbage request."""

    def __init__(self) -> None:
        self.transport = RecorderTransport()
        self.client = Client("phc_test", transport=self.transport, flush_interval=0.05)
        self.failures = _Failures()
        self._checked = 0

    def check(self, headers: list[tuple[str, str]], body: bytes) -> None:
        """The app's headers first and unchanged, only the package's own added (and a
        response that sets a cookie never shared-cached), the body unchanged; what the
        request sent is what PostHog's capture accepts; no package error swallowed."""
        assert [(name.lower(), value) for name, value in headers[: len(APP_HEADERS)]] == (
            APP_HEADERS
        )
        added = [(name.lower(), value) for name, value in headers[len(APP_HEADERS) :]]
        assert {name for name, _ in added} <= ADDED_HEADERS
        if added:  # this visitor's response
            assert ("cache-control", "private") in added
            assert ("vary", "Cookie") in added
        assert body == BODY
        assert self.client.flush(timeout=10)
        batches = self.transport.requests[self._checked :]
        self._checked += len(batches)
        events = []
        for batch in batches:
            sent = json.dumps(batch["json"]).encode()
            accepted = validate_capture(
                "/batch", sent, query={}, headers={"content-type": "application/json"}
            )
            assert isinstance(accepted, Accepted), accepted
            events += accepted.events
        assert len([e for e in events if e["event"] == "$pageview"]) <= 1
        # Robust, not merely guarded.
        assert [m for m in self.failures.messages if "failed" in m] == []


@contextlib.contextmanager
def stand_in() -> Iterator[StandIn]:
    """A :class:`StandIn` listening to the ``posthog_web`` logger, shut down afterwards."""
    stand = StandIn()
    logger = logging.getLogger("posthog_web")
    logger.addHandler(stand.failures)
    try:
        yield stand
    finally:
        logger.removeHandler(stand.failures)
        stand.client.shutdown(timeout=5)
