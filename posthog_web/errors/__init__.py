"""``$exception`` building: frames, chains, code variables and the flood limit.

Framework-free: imports only the standard library and :mod:`posthog_web.events`. The
client and the integrations hand an exception to :class:`ExceptionCapture` and send the
properties it returns.
"""

from __future__ import annotations

from posthog_web.errors.capture import (
    MECHANISM_GENERIC,
    MECHANISM_MIDDLEWARE,
    MECHANISM_UNCAUGHT,
    ExceptionCapture,
)
from posthog_web.errors.options import (
    DEFAULT_IGNORED_BELOW_500,
    DEFAULT_IGNORED_EXCEPTIONS,
    DEFAULT_MASKED_NAMES,
    ExceptionOptions,
)

__all__ = [
    "DEFAULT_IGNORED_BELOW_500",
    "DEFAULT_IGNORED_EXCEPTIONS",
    "DEFAULT_MASKED_NAMES",
    "MECHANISM_GENERIC",
    "MECHANISM_MIDDLEWARE",
    "MECHANISM_UNCAUGHT",
    "ExceptionCapture",
    "ExceptionOptions",
]
