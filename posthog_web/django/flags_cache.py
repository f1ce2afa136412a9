"""Flag definitions shared by an app's workers through a Django cache (``FLAGS_CACHE``).

The first worker whose copy is older than the poll interval takes a lock
(``cache.add``: atomic in Redis, memcached and the database cache; the file cache's
is not, so two workers may now and then both fetch) and fetches; the others read its
copy. So N workers, on one machine or on many sharing the cache, cost about one poll
per interval. Used from the poller's thread only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections

from posthog_web.client import normalize_host
from posthog_web.flags.definitions import Definitions
from posthog_web.flags.model import Malformed
from posthog_web.flags.poller import DEFINITIONS_TIMEOUT
from posthog_web.flags.store import DefinitionsStore, store_name

__all__ = ["DjangoCacheStore", "flags_cache_store"]

logger = logging.getLogger(__name__)


class DjangoCacheStore(DefinitionsStore):
    """A :class:`~posthog_web.DefinitionsStore` over the Django cache ``alias``.

    Args:
        alias: a key of ``settings.CACHES``.
        host: the PostHog host, as the client has it (``client.host``).
        api_key: the project API key; with ``host`` it names the entry (hashed).
        poll_interval: the client's ``flags_poll_interval``: the lock lasts at most one
            fetch's timeout plus this, so a worker that died holding it delays nobody long.
    """

    def __init__(self, alias: str, *, host: str, api_key: str, poll_interval: float) -> None:
        if not isinstance(alias, str) or not alias:
            raise TypeError(f"alias must be a cache alias (a str), not {alias!r}")
        self.alias = alias
        self.key = f"posthog-web:flags:{store_name(host, api_key)}"
        self.lock_key = f"{self.key}:lock"
        self.lock_timeout = math.ceil(DEFINITIONS_TIMEOUT + poll_interval)
        self._parsed: tuple[str, Definitions] | None = None
        self._logged = False

    def __repr__(self) -> str:
        return f"<DjangoCacheStore {self.alias!r}>"

    def _cache(self) -> BaseCache:
        return caches[self.alias]

    def _failed(self, doing: str, error: Exception) -> None:
        # A database cache's connection in this thread may be broken for good (the
        # server restarted): closed here, the next poll opens a new one.
        with contextlib.suppress(Exception):
            close_old_connections()
        # Once per process, not every poll: a cache that is down stays down a while.
        if not self._logged:
            self._logged = True
            logger.warning(
                "posthog-web: the Django cache %r failed while %s (%s: %s); this worker "
                "fetches the flag definitions itself while it fails",
                self.alias,
                doing,
                type(error).__name__,
                error,
            )

    def _get(self) -> dict[str, Any] | None:
        try:
            stored = self._cache().get(self.key)
        except Exception as error:
            self._failed("reading the definitions", error)
            return None
        return stored if isinstance(stored, dict) else None

    def load_fresh(self, max_age: float) -> Definitions | None:
        """The stored definitions if saved or touched less than ``max_age`` seconds ago."""
        stored = self._get()
        if stored is None:
            return None
        saved_at = stored.get("saved_at")
        if not isinstance(saved_at, (int, float)) or time.time() - saved_at >= max_age:
            return None
        return self._parse(stored)

    def load_any(self) -> Definitions | None:
        """The stored definitions however old."""
        stored = self._get()
        return None if stored is None else self._parse(stored)

    def _parse(self, stored: dict[str, Any]) -> Definitions | None:
        version = stored.get("version")
        if self._parsed is not None and self._parsed[0] == version:
            return self._parsed[1]
        etag = stored.get("etag")
        try:
            body = json.loads(stored["body"])
            definitions = Definitions.from_json(body, etag if isinstance(etag, str) else None)
        except (KeyError, TypeError, ValueError, Malformed):
            return None  # not ours, or from an incompatible version: fetch instead
        if isinstance(version, str):
            self._parsed = (version, definitions)
        return definitions

    def save(self, body: object, etag: str | None) -> None:
        """Store the fetched definitions for the other workers (kept until replaced)."""
        stored = {
            "version": uuid.uuid4().hex,
            "etag": etag,
            "body": json.dumps(body, separators=(",", ":")),
            "saved_at": time.time(),
        }
        try:
            self._cache().set(self.key, stored, timeout=None)
        except Exception as error:
            self._failed("saving the definitions", error)

    def touch(self) -> None:
        """A 304: the stored definitions are current again."""
        stored = self._get()
        if stored is None:
            return
        stored["saved_at"] = time.time()
        try:
            self._cache().set(self.key, stored, timeout=None)
        except Exception as error:
            self._failed("saving the definitions", error)

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[bool]:
        """Yield True for the one worker that should fetch now (or when the cache fails)."""
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        try:
            cache = self._cache()
            taken = cache.add(self.lock_key, token, timeout=self.lock_timeout)
        except Exception as error:
            self._failed("taking the fetch lock", error)
            yield True
            return
        if not taken:
            yield False
            return
        try:
            yield True
        finally:
            # Only our own lock: past its timeout another worker may hold it.
            try:
                if cache.get(self.lock_key) == token:
                    cache.delete(self.lock_key)
            except Exception as error:
                self._failed("releasing the fetch lock", error)


def flags_cache_store(conf: Mapping[str, Any], api_key: str, host: str) -> DjangoCacheStore | None:
    """The store ``POSTHOG_WEB['FLAGS_CACHE']`` names in a merged settings dict, or None."""
    alias = conf.get("FLAGS_CACHE")
    if alias is None:
        return None
    if conf.get("FLAGS_CACHE_DIR") is not None:
        raise ImproperlyConfigured("POSTHOG_WEB: set FLAGS_CACHE or FLAGS_CACHE_DIR, not both")
    return DjangoCacheStore(
        alias,
        host=normalize_host(host, allow_insecure_http=bool(conf["ALLOW_INSECURE_HTTP"])),
        api_key=api_key,
        poll_interval=float(conf["FLAGS_POLL_INTERVAL"]),
    )
