"""The one place that logs and swallows package errors on the request path.

Integrations wrap their own work in :func:`guarded`, so a bug in posthog-web never
changes or breaks the user's response. Programmer errors raised by the request
helper's public methods are the caller's bugs and are not guarded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("posthog_web")

_reported: set[tuple[str, type[BaseException]]] = set()


@contextmanager
def guarded(what: str) -> Iterator[None]:
    """Run the block; log any exception (with its traceback the first time) and go on."""
    try:
        yield
    except Exception as exc:
        key = (what, type(exc))
        if key in _reported:
            logger.warning("posthog-web: %s failed again: %r", what, exc)
        else:
            # Bounded: one entry per (place, exception type).
            _reported.add(key)
            logger.exception("posthog-web: %s failed; the response is unchanged", what)
