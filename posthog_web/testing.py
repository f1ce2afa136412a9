"""The pytest plugin shipped with posthog-web (entry point ``posthog_web``).

- The ``posthog_events`` fixture records every event any posthog-web client would
  send during the test, in memory, instead of sending it.
- The ``posthog_flags`` fixture forces feature flag values for every posthog-web client
  in the process, without a server.
- Outside the ``posthog_events`` fixture, nothing is sent to a host that is not
  loopback while pytest runs, unless ``posthog_web_allow_network = true`` is set in
  the pytest ini options or ``POSTHOG_WEB_ALLOW_NETWORK_IN_TESTS=1`` in the environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web.delivery import recorder as recording
from posthog_web.delivery.recorder import Recorder
from posthog_web.flags import overrides
from posthog_web.flags.results import FlagResult

__all__ = ["ForcedFlags", "Recorder", "posthog_events", "posthog_flags"]

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


class ForcedFlags:
    """Flag values forced for every client while the ``posthog_flags`` fixture is active.

    A flag that was not set is unknown (``None``; ``feature_enabled`` is False). Reads
    still send ``$feature_flag_called`` as usual (``posthog_events`` records them).
    """

    def __init__(self) -> None:
        self._results: dict[str, FlagResult] = {}
        overrides.install(self._results)

    def set(self, key: str, value: bool | str, payload: Any = None) -> None:
        """Force ``key`` to ``value`` (True/False or a variant key), with an optional
        JSON ``payload``; raises TypeError/ValueError for a bad key or value."""
        if not isinstance(key, str) or not key:
            raise TypeError("key must be a non-empty str")
        if not isinstance(value, (bool, str)) or value == "":
            raise TypeError("value must be a bool or a non-empty variant key (str)")
        self._results[key] = overrides.forced_result(key, value, payload)
        overrides.install(self._results)

    def unset(self, key: str) -> None:
        """Make ``key`` unknown again."""
        self._results.pop(key, None)
        overrides.install(self._results)

    def clear(self) -> None:
        """Forget every forced value (all flags unknown)."""
        self._results.clear()
        overrides.install(self._results)

    @property
    def values(self) -> dict[str, bool | str]:
        """The forced values by key."""
        return {key: r.value for key, r in self._results.items() if r.value is not None}


@pytest.fixture
def posthog_flags() -> Iterator[ForcedFlags]:
    """Force feature flag values for every posthog-web client during this test:
    ``posthog_flags.set("new-checkout", "test", payload={...})``, ``.unset(key)``,
    ``.clear()``. No definitions are fetched and no ``/flags`` call is made."""
    forced = ForcedFlags()
    try:
        yield forced
    finally:
        overrides.install(None)
