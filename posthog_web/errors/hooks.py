"""Uncaught exceptions: ``sys.excepthook`` and ``threading.excepthook``, chained.

posthog-web's hooks report the exception and then call the hooks that were installed
before them, so Python's own traceback printing, exit status and any other tool's hook
(Sentry's, say) are unchanged.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

MAIN = "main"
THREAD = "thread"

#: Called with the exception and where it escaped: :data:`MAIN` or :data:`THREAD`.
Report = Callable[[BaseException, str], None]
_SysHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]
_ThreadHook = Callable[[Any], Any]


class UncaughtHooks:
    """The installed hooks; :meth:`uninstall` puts the previous ones back.

    Args:
        report: called for each uncaught exception; its own failures are logged.
        threads: also hook ``threading.excepthook``.
    """

    def __init__(self, report: Report, *, threads: bool = True) -> None:
        self._report = report
        self._threads = threads
        self._previous_sys: _SysHook | None = None
        self._previous_thread: _ThreadHook | None = None
        self.installed = False

    def install(self) -> UncaughtHooks:
        """Install the hooks over the current ones (idempotent)."""
        if self.installed:
            return self
        self._previous_sys = sys.excepthook
        sys.excepthook = self._sys_hook
        if self._threads:
            self._previous_thread = threading.excepthook
            threading.excepthook = self._thread_hook
        self.installed = True
        return self

    def uninstall(self) -> None:
        """Put back the previous hooks, where ours are still the current ones."""
        if not self.installed:
            return
        if sys.excepthook == self._sys_hook and self._previous_sys is not None:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self._thread_hook and self._previous_thread is not None:
            threading.excepthook = self._previous_thread
        self.installed = False

    def _sys_hook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        # Ctrl-C is the user stopping the program, not an error.
        if not isinstance(exc, KeyboardInterrupt):
            self._safe_report(exc, MAIN)
        previous = self._previous_sys or sys.__excepthook__
        previous(exc_type, exc, tb)

    def _thread_hook(self, args: Any) -> None:
        exc = getattr(args, "exc_value", None)
        # threading ignores SystemExit in a thread; so do we.
        if isinstance(exc, BaseException) and not isinstance(exc, SystemExit):
            self._safe_report(exc, THREAD)
        previous = self._previous_thread or threading.__excepthook__
        previous(args)

    def _safe_report(self, exc: BaseException, where: str) -> None:
        try:
            self._report(exc, where)
        except Exception:
            logger.warning("posthog-web: could not report an uncaught exception", exc_info=True)
