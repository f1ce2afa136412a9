"""The spool's file locks: ``flock`` on a batch file (a claim) or on the directory (a write).

Every descriptor holding a lock is remembered, so that a forked child closes its copies:
an inherited descriptor would otherwise keep the parent's lock alive for the child's
whole life.
"""

from __future__ import annotations

import os
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Whether this system has ``fcntl.flock`` (POSIX); the spool cannot work without it.
HAVE_FLOCK = fcntl is not None

_held: set[int] = set()
_held_lock = threading.Lock()
_fork_hook_installed = False


class DirectoryLock:
    """An exclusive ``flock`` on the directory's lock file, held for one write."""

    __slots__ = ("_fd", "_path")

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        with _held_lock:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            _held.add(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            close_held(fd)
            raise
        self._fd = fd

    def __exit__(self, *exc: object) -> None:
        close_held(self._fd)


def open_locked(path: str) -> int | None:
    """A descriptor of ``path`` holding its exclusive lock, or None if busy or gone."""
    with _held_lock:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        _held.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        close_held(fd)
        return None
    except BaseException:
        close_held(fd)
        raise
    # Another process may have sent and deleted it between our open and our lock.
    if os.fstat(fd).st_nlink == 0:
        close_held(fd)
        return None
    return fd


def close_held(fd: int) -> None:
    """Close ``fd`` (releasing its lock) and forget it."""
    with _held_lock:
        _held.discard(fd)
    try:
        os.close(fd)
    except OSError:
        pass


def install_fork_hook() -> None:
    """Make forked children close the descriptors inherited from this process, once."""
    global _fork_hook_installed
    with _held_lock:
        if _fork_hook_installed:
            return
        _fork_hook_installed = True
    os.register_at_fork(
        before=_held_lock.acquire,
        after_in_parent=_held_lock.release,
        after_in_child=_forget_inherited_locks,
    )


def _forget_inherited_locks() -> None:
    # Closing (never unlocking) the child's copies leaves the parent's locks in place.
    # The forking thread took _held_lock in the "before" hook; it is this thread now.
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()
    _held_lock.release()
