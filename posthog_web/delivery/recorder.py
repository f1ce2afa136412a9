"""In-memory recording of events, for tests (see :mod:`posthog_web.testing`).

While a :class:`Recorder` is active, every client records its events here instead of
sending them, synchronously, so a test can assert on them right after the request.
Under pytest the plugin also blocks delivery to hosts that are not loopback.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger(__name__)

ALLOW_NETWORK_ENV = "POSTHOG_WEB_ALLOW_NETWORK_IN_TESTS"


class Recorder:
    """Events recorded while active, as PostHog would receive them (decoded JSON)."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, encoded: bytes) -> None:
        """Record one encoded event."""
        event = json.loads(encoded)
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every recorded event, in order."""
        with self._lock:
            return list(self._events)

    @property
    def pageviews(self) -> list[dict[str, Any]]:
        """The recorded ``$pageview`` events."""
        return self.named("$pageview")

    def named(self, event: str) -> list[dict[str, Any]]:
        """The recorded events called ``event``."""
        return [e for e in self.events if e["event"] == event]

    def for_person(self, distinct_id: str) -> list[dict[str, Any]]:
        """The recorded events sent with ``distinct_id``."""
        return [e for e in self.events if e["distinct_id"] == distinct_id]

    def clear(self) -> None:
        """Forget what was recorded."""
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._events)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.events)

    def __repr__(self) -> str:
        names = [e["event"] for e in self.events]
        return f"<posthog_web Recorder {len(names)} events: {names[:10]}>"


active: Recorder | None = None
"""The recorder in force, or None. Set with :func:`start` and :func:`stop`."""

_remote_blocked = False


def start() -> Recorder:
    """Make a new recorder active and return it."""
    global active
    active = Recorder()
    return active


def stop() -> None:
    """Deactivate the recorder."""
    global active
    active = None


def block_remote_hosts(blocked: bool = True) -> None:
    """Refuse to deliver to non-loopback hosts (the pytest plugin's default)."""
    global _remote_blocked
    _remote_blocked = blocked


def remote_blocked() -> bool:
    """True when delivery to non-loopback hosts is blocked and not allowed by the env var."""
    return _remote_blocked and os.environ.get(ALLOW_NETWORK_ENV, "") not in ("1", "true", "yes")
