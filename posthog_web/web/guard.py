"""The one place that logs and swallows package errors on the request path.

Integrations wrap their own work in :func:`guarded`, so a bug in posthog-web never
changes or breaks the user's response. Programmer errors raised by the request
helper's public methods are the caller's bugs and are not guarded.
"""

from __future__ import annotations

import logging
from types import TracebackType

logger = logging.getLogger("posthog_web")

_reported: set[tuple[str, type[BaseException]]] = set()


class guarded:  # lower case: it replaced a function, and reads as one in `with guarded(...)`
    """Run the block; log any exception (with its traceback the first time) and go on.

    A class rather than ``@contextmanager``: it runs a few times per request, and a
    generator-based context manager costs three times as much.
    """

    __slots__ = ("what",)

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        self.swallow(exc)
        return True

    def swallow(self, exc: Exception) -> None:
        """Log ``exc`` as :meth:`__exit__` does: for a ``try``/``except`` in place of
        ``with`` on the hottest calls (an ``except`` costs nothing until something raises,
        ``with`` costs two calls)."""
        key = (self.what, type(exc))
        if key in _reported:
            logger.warning("posthog-web: %s failed again: %r", self.what, exc)
        else:
            # Bounded: one entry per (place, exception type).
            _reported.add(key)
            logger.error(
                "posthog-web: %s failed; the response is unchanged",
                self.what,
                exc_info=(type(exc), exc, exc.__traceback__),
            )
