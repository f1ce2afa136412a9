"""``capture_uncaught()``: the opt-in capture of exceptions nothing caught."""

from __future__ import annotations

import os

from posthog_web import events as ev
from posthog_web.client import DEFAULT_HOST, Client
from posthog_web.errors import MECHANISM_UNCAUGHT
from posthog_web.errors.hooks import MAIN, UncaughtHooks

_SOURCES = {MAIN: "python.sys_excepthook"}
_THREAD_SOURCE = "python.threading_excepthook"
_uncaught: UncaughtHooks | None = None


def capture_uncaught(
    client: Client | None = None, *, threads: bool = True, distinct_id: str | None = None
) -> UncaughtHooks:
    """Capture exceptions nothing caught: ``sys.excepthook`` and ``threading.excepthook``.

    Opt-in. Each becomes an unhandled ``$exception`` (level ``fatal`` in the main thread,
    ``error`` in another), then the hooks installed before run as they would have; the
    exit status is unchanged. Calling it again replaces the earlier installation.

    Args:
        client: the client to send with; None: a :class:`Client` for the
            ``POSTHOG_API_KEY`` (and ``POSTHOG_HOST``) environment variables.
        threads: also capture exceptions that end a ``threading.Thread``.
        distinct_id: the person to attribute them to (a worker's name, say); None
            sends personless events.

    Returns:
        The installed hooks; ``.uninstall()`` puts the previous ones back.
    """
    global _uncaught
    if client is None:
        api_key = os.environ.get("POSTHOG_API_KEY")
        if not api_key:
            raise ValueError("client is None and the POSTHOG_API_KEY environment variable is unset")
        client = Client(api_key, host=os.environ.get("POSTHOG_HOST") or DEFAULT_HOST)
    elif not isinstance(client, Client):
        raise TypeError(f"client must be a posthog_web.Client, not {type(client).__name__}")
    if distinct_id is not None:
        ev.validate_distinct_id(distinct_id)
    sender = client

    def report(exc: BaseException, where: str) -> None:
        sender._capture_exception(
            exc,
            distinct_id=distinct_id,
            properties=None,
            timestamp=None,
            handled=False,
            mechanism_type=MECHANISM_UNCAUGHT,
            level="fatal" if where == MAIN else "error",
            source=_SOURCES.get(where, _THREAD_SOURCE),
        )

    if _uncaught is not None:
        _uncaught.uninstall()
    _uncaught = UncaughtHooks(report, threads=bool(threads)).install()
    return _uncaught
