"""The definitions poller: one background thread per process keeps the flag
definitions fresh with ``If-None-Match`` (a 304 keeps the set).

401/403 (and 402, quota) drop the definitions, so flags go to the server, and log once;
any other failure keeps the last good set. After ``fork()`` the child starts its own
thread on first use (gunicorn ``--preload``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from urllib.parse import quote

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.http import HTTPClient, HTTPFailure
from posthog_web.flags.model import Malformed
from posthog_web.flags.store import DefinitionsStore

# DefinitionsStore lives in store.py (its contract); importable from here as before.
__all__ = ["DEFINITIONS_TIMEOUT", "DefinitionsPoller", "DefinitionsStore"]

logger = logging.getLogger(__name__)

DEFINITIONS_TIMEOUT = 10.0


class DefinitionsPoller:
    """Fetches and refreshes the definitions of one project.

    Args:
        host: the PostHog base URL.
        api_key: the project token (a query parameter).
        secret_key: sent only as ``Authorization: Bearer``; never logged or shown.
        interval: seconds between polls.
        http: the HTTP client.
        store: shares the definitions across processes (:class:`DefinitionsStore`).
    """

    def __init__(
        self,
        host: str,
        api_key: str,
        secret_key: str,
        interval: float,
        http: HTTPClient,
        store: DefinitionsStore | None = None,
    ) -> None:
        self._url = f"{host}/flags/definitions?token={quote(api_key)}&send_cohorts"
        self._auth = {"Authorization": f"Bearer {secret_key}"}
        self._interval = interval
        self._http = http
        self._store = store
        self._lock = threading.Lock()
        self.polls = 0
        self._reset()
        weak = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_if_alive(weak))

    def _reset(self) -> None:
        self._definitions: Definitions | None = None
        self._loaded = threading.Event()
        self.ready = False  # the thread runs in this process and the first poll ended
        self._gave_up = False  # a call waited in vain for the first load: no more waits
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._denied_logged = False

    def __repr__(self) -> str:
        return f"<DefinitionsPoller {self._url.split('?')[0]!r}>"

    @property
    def definitions(self) -> Definitions | None:
        """The current set, or None before the first load or after a 401/403."""
        return self._definitions

    def get(self, wait: float) -> Definitions | None:
        """Start the thread if needed and wait up to ``wait`` seconds for a first load."""
        if self.ready:
            return self._definitions
        if self._thread is None or self._pid != os.getpid():
            self._start()
        # Only until a first wait expires: a hanging endpoint then costs nothing.
        if (
            not self._loaded.is_set()
            and wait > 0
            and not self._gave_up
            and not self._loaded.wait(wait)
        ):
            self._gave_up = True
        return self._definitions

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="posthog-web-flags", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop polling (the thread ends at its next wake-up)."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception:  # a bug here must not kill the poller
                logger.exception("posthog-web: polling the flag definitions failed")
            self._loaded.set()
            self.ready = True
            self._stop.wait(self._interval)

    def poll(self) -> None:
        """One poll: from the shared store when it is fresh, else from PostHog."""
        store = self._store
        if store is None:
            self.fetch()
            return
        shared = store.load_fresh(self._interval)
        if shared is not None:
            self._swap(shared)
            return
        with store.fetch_lock() as fetching:
            if not fetching:  # another worker is fetching: meanwhile, its last copy
                if self._definitions is None:
                    self._wait_for_other_worker(store)
                return
            shared = store.load_fresh(self._interval)  # fetched while we waited?
            if shared is not None:
                self._swap(shared)
                return
            if self._definitions is None:
                # Start from the stored copy so the fetch can be a cheap 304.
                self._definitions = store.load_any()
            self.fetch()

    def _wait_for_other_worker(self, store: DefinitionsStore) -> None:
        # Nothing loaded yet: wait (bounded) for the fetching worker's copy rather than
        # evaluate remotely for a whole interval.
        deadline = time.monotonic() + DEFINITIONS_TIMEOUT + 1
        while not self._stop.is_set():
            stored = store.load_any()
            if stored is not None:
                self._swap(stored)
                return
            if time.monotonic() > deadline:
                self.fetch()
                return
            self._stop.wait(0.05)

    def fetch(self) -> None:
        """One GET of the definitions endpoint."""
        headers = dict(self._auth)
        current = self._definitions
        if current is not None and current.etag:
            headers["If-None-Match"] = current.etag
        self.polls += 1
        try:
            answer = self._http.request(
                "GET", self._url, timeout=DEFINITIONS_TIMEOUT, headers=headers
            )
        except HTTPFailure as failure:
            logger.warning(
                "posthog-web: the flag definitions could not be fetched (%s)", failure.kind
            )
            return
        if answer.status == 304 and current is not None:
            if self._store is not None:
                self._store.touch()
            return
        if answer.status in (401, 402, 403):
            self._definitions = None
            if not self._denied_logged:
                self._denied_logged = True
                logger.error(
                    "posthog-web: PostHog refused the flag definitions (HTTP %s): check "
                    "flags_secret_key (a personal API key with feature_flag:read, or the "
                    "project's feature flags secure key) and the project API key; flags are "
                    "evaluated remotely meanwhile",
                    answer.status,
                )
            return
        if answer.status != 200:
            logger.warning("posthog-web: the flag definitions answered HTTP %s", answer.status)
            return
        try:
            definitions = Definitions.from_json(answer.body, answer.etag)
        except Malformed as error:
            logger.warning("posthog-web: the flag definitions were malformed: %s", error)
            return
        self._denied_logged = False
        self._swap(definitions)
        if self._store is not None:
            self._store.save(answer.body, answer.etag)

    def _swap(self, definitions: Definitions) -> None:
        self._definitions = definitions


def _reset_if_alive(weak: Callable[[], DefinitionsPoller | None]) -> None:
    poller = weak()
    if poller is not None:
        # Keep the parent's definitions: they are immutable and still valid.
        definitions = poller._definitions
        poller._lock = threading.Lock()  # the parent's may have been held at fork
        poller._reset()
        poller._definitions = definitions
        if definitions is not None:
            poller._loaded.set()
