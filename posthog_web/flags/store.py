"""Where the processes of one machine share the flag definitions: the store's contract.

``Client(flags_store=...)`` takes any :class:`DefinitionsStore`; ``flags_cache_dir``
builds the directory one (:mod:`posthog_web.flags.cache`) and Django's ``FLAGS_CACHE``
one over a Django cache (:mod:`posthog_web.django.flags_cache`). The poller calls a
store from its own thread only, never on a request's path.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import logging
from collections.abc import Iterator

from posthog_web.flags.definitions import Definitions

__all__ = ["DefinitionsStore", "GuardedStore", "guarded_store", "store_name"]

logger = logging.getLogger(__name__)


def store_name(host: str, api_key: str) -> str:
    """A short name for one project's definitions on one host (a hash: no key in it)."""
    return hashlib.sha256(f"{host}\0{api_key}".encode()).hexdigest()[:16]


class DefinitionsStore(abc.ABC):
    """Shares one project's definitions between processes: one fetches, the others read.

    Subclass it and implement the five methods. The poller calls them from its
    background thread only, once per poll interval (and every 50 ms, bounded, while a
    process with nothing loaded waits for another's first fetch). A method should not
    raise: a store that cannot reach its backend answers None, or True from
    :meth:`fetch_lock`, so the process fetches itself. An exception that escapes anyway
    is logged once and taken as that answer. The secret key never reaches a store.
    """

    @abc.abstractmethod
    def load_fresh(self, max_age: float) -> Definitions | None:
        """The stored definitions if saved (or touched) less than ``max_age`` s ago, else None.

        Parse them (``Definitions.from_json(body, etag)``) only when the stored copy
        changed: keep the parsed set for the next call.
        """

    @abc.abstractmethod
    def load_any(self) -> Definitions | None:
        """The stored definitions however old; None when nothing is stored."""

    @abc.abstractmethod
    def fetch_lock(self) -> contextlib.AbstractContextManager[bool]:
        """A context manager yielding True for the one process that should fetch now.

        It must not wait for the holder: yield False at once while another holds it
        (that process then keeps its copy). A lock left by a dead process must expire.
        """

    @abc.abstractmethod
    def save(self, body: object, etag: str | None) -> None:
        """Store a fetched definitions body (the decoded JSON) and its ETag, saved now."""

    @abc.abstractmethod
    def touch(self) -> None:
        """PostHog answered 304: mark the stored copy as saved now."""


class GuardedStore(DefinitionsStore):
    """Wraps a caller's store: an exception from it is logged once and means "fetch"."""

    def __init__(self, store: DefinitionsStore) -> None:
        self.store = store
        self._logged = False

    def __repr__(self) -> str:
        return f"<GuardedStore {self.store!r}>"

    def _failed(self, method: str) -> None:
        if not self._logged:
            self._logged = True
            logger.warning(
                "posthog-web: the flags store %s.%s() raised; this process fetches the "
                "definitions itself",
                type(self.store).__name__,
                method,
                exc_info=True,
            )

    def load_fresh(self, max_age: float) -> Definitions | None:
        try:
            return self.store.load_fresh(max_age)
        except Exception:
            self._failed("load_fresh")
            return None

    def load_any(self) -> Definitions | None:
        try:
            return self.store.load_any()
        except Exception:
            self._failed("load_any")
            return None

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[bool]:
        try:
            manager = self.store.fetch_lock()
            holding = bool(manager.__enter__())
        except Exception:
            self._failed("fetch_lock")
            yield True
            return
        try:
            yield holding
        except BaseException as error:
            self._release(manager, error)
            raise
        self._release(manager, None)

    def _release(
        self, manager: contextlib.AbstractContextManager[bool], error: BaseException | None
    ) -> None:
        try:
            if error is None:
                manager.__exit__(None, None, None)
            else:
                manager.__exit__(type(error), error, error.__traceback__)
        except Exception:
            self._failed("fetch_lock")

    def save(self, body: object, etag: str | None) -> None:
        try:
            self.store.save(body, etag)
        except Exception:
            self._failed("save")

    def touch(self) -> None:
        try:
            self.store.touch()
        except Exception:
            self._failed("touch")


def guarded_store(store: object, field: str) -> DefinitionsStore | None:
    """``store`` checked (a TypeError naming ``field``) and wrapped in a :class:`GuardedStore`."""
    if store is None:
        return None
    if not isinstance(store, DefinitionsStore):
        raise TypeError(
            f"{field} must be a posthog_web.DefinitionsStore, not {type(store).__name__}"
        )
    return store if isinstance(store, GuardedStore) else GuardedStore(store)
