"""Definitions shared by the processes of one machine through a directory.

The first worker whose copy is older than the poll interval takes a lock and fetches
(with ``If-None-Match``; a 304 only refreshes the file's time); the others read the
file. So N workers cost about one poll per interval, not N. Definitions can then be up
to about two intervals old.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.model import Malformed
from posthog_web.flags.store import DefinitionsStore, store_name

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: every worker fetches
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)


class DirectoryStore(DefinitionsStore):
    """One JSON file per (host, project) in ``directory``, written atomically (0600)."""

    def __init__(self, directory: str, host: str, api_key: str) -> None:
        self.path = os.path.join(directory, f"posthog-flags-{store_name(host, api_key)}.json")
        self._directory = directory
        self._parsed: tuple[int, Definitions] | None = None

    def __repr__(self) -> str:
        return f"<DirectoryStore {self.path!r}>"

    def load_fresh(self, max_age: float) -> Definitions | None:
        """The stored definitions if written less than ``max_age`` seconds ago."""
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        if time.time() - stat.st_mtime >= max_age:
            return None
        return self._read(stat.st_mtime_ns)

    def load_any(self) -> Definitions | None:
        """The stored definitions however old (while another worker fetches)."""
        try:
            return self._read(os.stat(self.path).st_mtime_ns)
        except OSError:
            return None

    def _read(self, mtime_ns: int) -> Definitions | None:
        if self._parsed is not None and self._parsed[0] == mtime_ns:
            return self._parsed[1]
        try:
            with open(self.path, encoding="utf-8") as file:
                stored = json.load(file)
            definitions = Definitions.from_json(stored["body"], stored.get("etag"))
        except (OSError, ValueError, KeyError, TypeError, Malformed):
            return None  # being replaced, or not ours: fetch instead
        self._parsed = (mtime_ns, definitions)
        return definitions

    def save(self, body: object, etag: str | None) -> None:
        """Write the definitions for the other workers (atomically)."""
        try:
            os.makedirs(self._directory, mode=0o700, exist_ok=True)
            temporary = f"{self.path}.{os.getpid()}.tmp"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump({"etag": etag, "body": body}, file, separators=(",", ":"))
            os.replace(temporary, self.path)
        except OSError as error:
            logger.warning(
                "posthog-web: the shared flag definitions could not be written: %s", error
            )

    def touch(self) -> None:
        """A 304: the stored definitions are current again."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    @contextlib.contextmanager
    def fetch_lock(self) -> Iterator[bool]:
        """Yield True for the one worker that should fetch now."""
        if fcntl is None:
            yield True
            return
        try:
            os.makedirs(self._directory, mode=0o700, exist_ok=True)
            descriptor = os.open(f"{self.path}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
        except OSError:
            yield True
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)  # closing releases the lock
