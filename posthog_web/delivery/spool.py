"""The durable spool: batches PostHog could not take yet, kept on disk until it can.

One file per batch in one directory per project. A file appears whole or not at all
(written under a temporary name, then renamed); its name sorts oldest first and carries
the event count and size, so the byte bound and the drop count need no ``stat``. A
process claims a batch with an exclusive, non-blocking ``flock`` on its file: several
processes (gunicorn workers) share the directory and no batch is sent by two of them
at once, and the lock goes away with a process that dies holding it. Why files and not
SQLite: docs/reliability.md.

POSIX only (``fcntl``): elsewhere :meth:`Spool.open` raises ``OSError``.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from posthog_web.delivery.file_locks import (
    HAVE_FLOCK,
    DirectoryLock,
    close_held,
    install_fork_hook,
    open_locked,
)

logger = logging.getLogger(__name__)

SUFFIX = ".batch"
MAGIC = b"PHWSPOOL1"
CORRUPT_DIR = "corrupt"
#: Corrupt files kept for inspection; older ones are deleted.
MAX_CORRUPT_FILES = 20
#: A temporary file this old was left by a process that died while writing it.
STALE_TMP_SECONDS = 600.0
_LOCK_FILE = ".lock"
_TMP_PREFIX = ".tmp-"

_sequence = itertools.count()


class SpoolError(OSError):
    """The spool directory cannot be used."""


class BatchName(NamedTuple):
    """What a batch file's name says: oldest first when sorted by name."""

    name: str
    events: int
    size: int


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What :meth:`Spool.write` did: events written, and events dropped for the bound."""

    written: int
    dropped: int


class Claim:
    """One batch this process holds the lock on; ``done()`` deletes it, ``release()`` keeps it."""

    __slots__ = ("_fd", "_spool", "events", "name", "path")

    def __init__(self, spool: Spool, name: str, fd: int, events: list[bytes]) -> None:
        self._spool = spool
        self.name = name
        self.path = os.path.join(spool.path, name)
        self.events = events
        self._fd: int | None = fd

    def done(self) -> None:
        """The batch was delivered: delete it, then let go of the lock."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self._close()

    def release(self) -> None:
        """Keep the batch for a later attempt (by any process); it stays next in line here."""
        if self._fd is not None:
            self._spool._put_back(self.name)
        self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            close_held(fd)


def parse_name(name: str) -> BatchName | None:
    """``<time_ns>-<pid>-<seq>-<token>-<count>-<size>.batch``, or None for other files."""
    if not name.endswith(SUFFIX) or name.startswith("."):
        return None
    parts = name[: -len(SUFFIX)].rsplit("-", 2)
    if len(parts) != 3 or not (parts[1].isdecimal() and parts[2].isdecimal()):
        return None
    return BatchName(name, int(parts[1]), int(parts[2]))


def _size_of(name: str) -> int:
    size = name[name.rfind("-") + 1 : -len(SUFFIX)]
    return int(size) if size.isdecimal() else 0


def encode_batch(events: Sequence[bytes]) -> bytes:
    """A batch file's bytes: a header with the count and CRC-32, then one event a line."""
    body = b"\n".join(events)
    header = b"%s %d %08x\n" % (MAGIC, len(events), zlib.crc32(body))
    return header + body


def decode_batch(data: bytes) -> list[bytes]:
    """The events of a batch file; ValueError when it is not one, or is damaged."""
    header, sep, body = data.partition(b"\n")
    parts = header.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != MAGIC:
        raise ValueError("not a spool batch (bad header)")
    try:
        count, crc = int(parts[1]), int(parts[2], 16)
    except ValueError:
        raise ValueError("not a spool batch (bad header)") from None
    if zlib.crc32(body) != crc:
        raise ValueError("checksum mismatch")
    events = body.split(b"\n") if body else []
    if len(events) != count or not all(e[:1] == b"{" for e in events):
        raise ValueError("event count mismatch")
    return events


class Spool:
    """A directory of undelivered batches shared by every process that sends to one project.

    Args:
        path: the directory of this project's batches (created, mode 0700).
        max_bytes: bound on the batch files' total size; past it the oldest are deleted.

    Thread-safe and process-safe. Methods raise ``OSError`` when the disk fails them;
    a damaged batch file is moved to ``corrupt/`` with an error log instead.
    """

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock_path = os.path.join(path, _LOCK_FILE)
        # Names still to try, newest first (claim() pops the oldest): one listing serves
        # a whole drain instead of one per batch.
        self._cursor: list[str] = []
        self._cursor_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<Spool {self.path!r}>"

    def open(self) -> None:
        """Create the directory (moving aside anything else in its place) and tidy it."""
        if not HAVE_FLOCK:  # pragma: no cover - Windows
            raise SpoolError("the spool needs fcntl.flock (a POSIX system)")
        install_fork_hook()
        try:
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            if not os.path.lexists(self.path) or os.path.isdir(self.path):
                raise
            aside = f"{self.path}.corrupt-{time.time_ns()}"
            os.replace(self.path, aside)
            logger.error(
                "posthog-web: the spool %s was not a directory; moved to %s", self.path, aside
            )
            os.makedirs(self.path, mode=0o700, exist_ok=True)
        if not os.access(self.path, os.R_OK | os.W_OK | os.X_OK):
            raise SpoolError(f"the spool directory {self.path} is not readable and writable")
        self._remove_stale_tmp()

    def batches(self) -> list[BatchName]:
        """The batch files, oldest first."""
        found = []
        for name in os.listdir(self.path):
            parsed = parse_name(name)
            if parsed is not None:
                found.append(parsed)
        found.sort()
        return found

    def stats(self) -> tuple[int, int, int]:
        """``(batches, events, bytes)`` in the spool now."""
        listing = self.batches()
        return len(listing), sum(b.events for b in listing), sum(b.size for b in listing)

    def write(self, events: Sequence[bytes]) -> WriteResult:
        """Add one batch, deleting the oldest batches first if the bound requires it."""
        if not events:
            return WriteResult(0, 0)
        data = encode_batch(events)
        if len(data) > self.max_bytes:
            return WriteResult(0, len(events))
        seq = next(_sequence)
        pid = os.getpid()
        name = f"{time.time_ns():020d}-{pid}-{seq}-{secrets.token_hex(3)}-{len(events)}-{len(data)}"
        tmp = os.path.join(self.path, f"{_TMP_PREFIX}{pid}-{seq}")
        # One writer at a time per directory keeps the bound exact across processes.
        with DirectoryLock(self._lock_path):
            dropped = self._make_room(len(data))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                try:
                    _write_all(fd, data)
                finally:
                    os.close(fd)
                os.rename(tmp, os.path.join(self.path, name + SUFFIX))
            except BaseException:
                _unlink_quietly(tmp)
                raise
        return WriteResult(len(events), dropped)

    def claim(self) -> Claim | None:
        """Lock and read the oldest batch nobody else holds; None when there is none."""
        with self._cursor_lock:
            listed = False
            while True:
                if not self._cursor:
                    if listed:
                        return None
                    # Once more from a new listing: others may have written since.
                    self._cursor = [b.name for b in reversed(self.batches())]
                    listed = True
                    continue
                claim = self._try_claim(self._cursor.pop())
                if claim is not None:
                    return claim

    def _put_back(self, name: str) -> None:
        with self._cursor_lock:
            self._cursor.append(name)

    # Internals -----------------------------------------------------------------------

    def _try_claim(self, name: str) -> Claim | None:
        path = os.path.join(self.path, name)
        fd = open_locked(path)
        if fd is None:
            return None
        try:
            data = _read_all(fd)
            events = decode_batch(data)
        except (OSError, ValueError) as exc:
            self._move_aside(path, name, exc)
            close_held(fd)
            return None
        except BaseException:
            close_held(fd)
            raise
        return Claim(self, name, fd, events)

    def _make_room(self, incoming: int) -> int:
        names = [n for n in os.listdir(self.path) if n.endswith(SUFFIX) and n[0] != "."]
        # The size is the name's last field: no stat, no parsing unless over the bound.
        total = incoming + sum(_size_of(n) for n in names)
        if total <= self.max_bytes:
            return 0
        dropped = 0
        for batch in sorted(filter(None, map(parse_name, names))):
            if total <= self.max_bytes:
                break
            path = os.path.join(self.path, batch.name)
            # A batch another process is sending right now is left to it.
            fd = open_locked(path)
            if fd is None:
                continue
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            finally:
                close_held(fd)
            total -= batch.size
            dropped += batch.events
        return dropped

    def _move_aside(self, path: str, name: str, why: Exception) -> None:
        corrupt = os.path.join(self.path, CORRUPT_DIR)
        try:
            os.makedirs(corrupt, mode=0o700, exist_ok=True)
            os.replace(path, os.path.join(corrupt, name))
            logger.error(
                "posthog-web: spool batch %s is unreadable (%s); moved to %s", name, why, corrupt
            )
            kept = sorted(os.listdir(corrupt))
            for old in kept[:-MAX_CORRUPT_FILES]:
                _unlink_quietly(os.path.join(corrupt, old))
        except OSError as exc:
            logger.error(
                "posthog-web: spool batch %s is unreadable (%s) and stays: %s", name, why, exc
            )

    def _remove_stale_tmp(self) -> None:
        cutoff = time.time() - STALE_TMP_SECONDS
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.startswith(_TMP_PREFIX):
                    try:
                        if entry.stat().st_mtime < cutoff:
                            os.unlink(entry.path)
                    except OSError:
                        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
