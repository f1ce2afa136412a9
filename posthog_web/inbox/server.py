"""InboxServer: the local PostHog-compatible capture server and what it recorded."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from posthog_web.inbox.faults import FaultInjector
from posthog_web.inbox.flags import DEFAULT_SECRET_KEY, InboxFlags
from posthog_web.inbox.httpd import InboxHTTPServer
from posthog_web.inbox.persons import merge_view
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.sessions import group_sessions
from posthog_web.inbox.state import InboxState
from posthog_web.inbox.store import EventStore

logger = logging.getLogger(__name__)

__all__ = ["InboxServer", "RecordedRequest"]

_STOP_TIMEOUT = 5.0


class InboxServer:
    """A local PostHog-compatible capture server that stores what it accepts.

    Args:
        host: the interface to bind (keep it on loopback).
        port: the port to bind; 0 picks a free one (read it back from ``port`` or ``url``).
        db_path: a SQLite file (WAL mode; events survive restarts), or None for memory.
        flags: feature flags to serve: a flags file path (reloaded when it changes), or
            its parsed value (docs/inbox.md, "Feature flags"); None serves no flags.
            A bad one raises ``FlagsFileError`` (a ValueError) naming the field.
        flags_secret_key: the Bearer token the definitions endpoint accepts.

    Use ``start()``/``stop()`` or ``with InboxServer() as inbox:``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | Path | None = None,
        *,
        flags: str | Path | dict[str, Any] | list[Any] | None = None,
        flags_secret_key: str = DEFAULT_SECRET_KEY,
    ) -> None:
        self.host = host
        self._port = port
        inbox_flags = InboxFlags(flags, flags_secret_key)  # checked before the database opens
        self._state = InboxState(EventStore(db_path), flags=inbox_flags)
        self._store = self._state.store
        self._lock = threading.Lock()
        self._stopping = self._state.stopping
        self._httpd: InboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def faults(self) -> FaultInjector:
        """The fault injector requests go through (assignable: tests install their own)."""
        return self._state.faults

    @faults.setter
    def faults(self, faults: FaultInjector) -> None:
        self._state.faults = faults

    @property
    def flags(self) -> InboxFlags:
        """The flags the inbox serves (``summary(...)``, ``current()``)."""
        return self._state.flags

    def flags_summary(self) -> dict[str, Any]:
        """What ``GET /api/flags`` answers: definitions and exposure counts per flag."""
        return self._state.flags.summary(self._store.events("$feature_flag_called"))

    def start(self) -> InboxServer:
        """Bind and serve in a daemon thread; return self.

        Raises OSError when the address cannot be bound (the server is then stopped).
        """
        if self._httpd is not None or self._stopped:
            raise RuntimeError("an InboxServer can be started only once")
        try:
            self._httpd = InboxHTTPServer((self.host, self._port), self._state)
        except BaseException:
            self.stop()
            raise
        self._port = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve,
            args=(self._stopping,),
            name="posthog-web-inbox",
            daemon=True,
        )
        self._thread.start()
        # Parse a kept database's rows before the page is first opened, not when it is.
        threading.Thread(
            target=self._state.data.warm, name="posthog-web-inbox-warm", daemon=True
        ).start()
        logger.info("inbox: listening on %s", self.url)
        return self

    @property
    def port(self) -> int:
        """The bound port (the requested one before ``start()``)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8010``: the host to give a PostHog client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def stop(self) -> None:
        """Stop serving, close every connection (releasing hung requests) and the database.

        Idempotent.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        if self._httpd is not None and self._thread is not None:
            self._httpd.wake()
            self._thread.join(_STOP_TIMEOUT)
            self._httpd.server_close()
            self._httpd.close_connections(_STOP_TIMEOUT)
        self._store.close()

    def __enter__(self) -> InboxServer:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def events(
        self, event: str | None = None, distinct_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Accepted events in arrival order, optionally only one event name and/or distinct id."""
        return self._store.events(event, distinct_id)

    def wait_for_events(
        self, count: int, timeout: float = 10.0, event: str | None = None
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` (matching) events are stored and return them all.

        Raises AssertionError naming what was received when ``timeout`` seconds pass first.
        """
        return self._store.wait_for(count, timeout, event)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests to capture paths (not CORS preflights) in arrival order; the latest 10,000."""
        return self._state.requests.all()

    def clear(self) -> None:
        """Forget every stored event and recorded request (faults stay armed)."""
        self._state.clear()

    def persons(self) -> list[dict[str, Any]]:
        """PostHog's person merge rules applied to the stored events, in order."""
        return merge_view(self._store.events())[0]

    def merge_refusals(self) -> list[dict[str, Any]]:
        """The merges PostHog would refuse (and person events it would drop), with reasons."""
        return merge_view(self._store.events())[1]

    def sessions(self) -> list[dict[str, Any]]:
        """Page views grouped by ``$session_id``, flagged when the id is not a UUIDv7."""
        return group_sessions(self._store.events())
