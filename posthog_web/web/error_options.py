"""The error tracking options of the request tracker, checked when the options are made.

``capture_exceptions``, ``ignore_exceptions``, ``in_app`` and ``capture_code_variables``
are :class:`~posthog_web.web.options.TrackerOptions` fields (``POSTHOG_WEB`` keys in
Django, keywords of the ASGI middleware); the last three refine the client's
:class:`~posthog_web.errors.ExceptionOptions` for the exceptions of requests.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from posthog_web.errors import ExceptionCapture, ExceptionOptions

__all__ = ["check_exception_options", "exception_capture_for"]


def _given(options: Any) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for name in ("in_app", "ignore_exceptions"):
        value = getattr(options, name)
        if value is not None:
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(
                    f"{name} must be a list or tuple (or None), not {type(value).__name__}"
                )
            given[name] = tuple(value)
    if options.capture_code_variables is not None:
        given["capture_code_variables"] = options.capture_code_variables
    return given


def check_exception_options(options: Any) -> None:
    """Refuse bad error tracking options of ``options`` (a ``TrackerOptions``) now."""
    if not isinstance(options.capture_exceptions, bool):
        raise TypeError("capture_exceptions must be True or False")
    if options.capture_code_variables is not None and not isinstance(
        options.capture_code_variables, bool
    ):
        raise TypeError("capture_code_variables must be True, False or None")
    # ExceptionOptions names the field of a bad value (a type, a dotted path, a prefix).
    ExceptionOptions(**_given(options))


def exception_capture_for(base: object, options: Any) -> ExceptionCapture:
    """The capture of a tracker's requests: the client's own unless ``options`` refine it.

    The client's own (``base``) shares its flood buckets with ``client.capture_exception``;
    a client-like object without one gets a new one.
    """
    given = _given(options)
    if isinstance(base, ExceptionCapture):
        if not given:
            return base
        return ExceptionCapture(dataclasses.replace(base.options, **given))
    return ExceptionCapture(ExceptionOptions(**given))
