"""The pytest plugin shipped with posthog-web (entry point ``posthog_web``).

- The ``posthog_events`` fixture records every event any posthog-web client would
  send during the test, in memory, instead of sending it.
- Outside that fixture, nothing is sent to a host that is not loopback while pytest
  runs, unless ``posthog_web_allow_network = true`` is set in the pytest ini options or
  ``POSTHOG_WEB_ALLOW_NETWORK_IN_TESTS=1`` in the environment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from posthog_web.delivery import recorder as recording
from posthog_web.delivery.recorder import Recorder

__all__ = ["Recorder", "posthog_events"]

# Blocked at import, before any conftest can build a client; the ini option can lift it.
recording.block_remote_hosts(True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "posthog_web_allow_network",
        type="bool",
        default=False,
        help="let posthog-web clients send to non-loopback hosts during tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getini("posthog_web_allow_network"):
        recording.block_remote_hosts(False)


def pytest_unconfigure(config: pytest.Config) -> None:
    recording.block_remote_hosts(False)


@pytest.fixture
def posthog_events() -> Iterator[Recorder]:
    """Record the events posthog-web would send during this test.

    The recorder has ``.events``, ``.pageviews``, ``.named(event)``,
    ``.for_person(distinct_id)`` and ``.clear()``.
    """
    recorder = recording.start()
    try:
        yield recorder
    finally:
        recording.stop()
