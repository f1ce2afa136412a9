"""The request helper's argument checks: each raises at the call, naming the field."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from posthog_web.events import check_properties, describe_json_error, encode_json
from posthog_web.web.privacy import check_properties_size

__all__ = ["check_name", "checked_exception", "checked_properties"]


def checked_exception(exc: object) -> BaseException:
    """``exc``, or the exception being handled when None."""
    if exc is None:
        exc = sys.exc_info()[1]
        if exc is None:
            raise ValueError("exc is None and no exception is being handled")
    elif not isinstance(exc, BaseException):
        raise TypeError(f"exc must be an exception instance, not {type(exc).__name__}")
    return exc


def check_name(name: object) -> None:
    """Refuse a page name that is neither a str nor None."""
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, not {type(name).__name__}")


def checked_properties(properties: Mapping[str, Any] | None, field: str) -> dict[str, Any]:
    """``properties`` as a new dict, refused now (not in the sender) if it cannot become JSON."""
    props = check_properties(properties, field)
    if props:
        try:
            size = len(encode_json(props))
        except (TypeError, ValueError):
            raise TypeError(describe_json_error(props, field)) from None
        check_properties_size(size, props, field)
    return props
