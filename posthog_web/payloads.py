"""An operation's event encoded in the caller's thread, refused there if it cannot be JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from posthog_web import events as ev

__all__ = ["check_encodable", "encode_event", "url_properties"]


def encode_event(
    message: dict[str, Any],
    properties: dict[str, Any],
    top_level: dict[str, Any] | None,
    added: int,
) -> bytes:
    """Encode an event, raising with the field named; ``added``: bytes the sender adds."""
    if top_level:
        message.update(top_level)
    try:
        encoded = ev.encode_json(message)
    except (TypeError, ValueError):
        raise TypeError(_json_problem(properties, top_level)) from None
    size = len(encoded) + added
    if size > ev.MAX_EVENT_BYTES:
        raise ValueError(
            f"the {message['event']!r} event is {size} bytes once encoded; PostHog accepts "
            f"at most {ev.MAX_EVENT_BYTES} (900 KiB): send fewer or smaller properties"
        )
    return encoded


def check_encodable(properties: dict[str, Any]) -> None:
    """Raise, naming the field, if the caller's properties alone cannot make an event."""
    try:
        size = len(ev.encode_json(properties))
    except (TypeError, ValueError):
        raise TypeError(_json_problem(properties, None)) from None
    if size > ev.MAX_EVENT_BYTES:
        raise ValueError(
            f"properties are {size} bytes once encoded; PostHog accepts at most "
            f"{ev.MAX_EVENT_BYTES} (900 KiB) per event"
        )


_FIELD_OF_TOP_LEVEL = {ev.PROP_SET: "properties", ev.PROP_SET_ONCE: "properties_once"}


def _json_problem(properties: dict[str, Any], top_level: dict[str, Any] | None) -> str:
    # $identify carries the caller's properties at the top level ($set / $set_once).
    parts = [(properties, "properties")]
    parts += [(value, _FIELD_OF_TOP_LEVEL[key]) for key, value in (top_level or {}).items()]
    for value, field in parts:
        problem = ev.describe_json_error(value, field)
        if ":" in problem:
            return problem
    return "the event cannot become JSON"


def url_properties(url: object, field: str = "url") -> dict[str, str]:
    """Return ``$current_url``, ``$host`` and ``$pathname`` for an absolute http(s) URL."""
    if not isinstance(url, str):
        raise TypeError(f"{field} must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{field}={url!r} is not an absolute http(s) URL")
    return {
        ev.PROP_CURRENT_URL: url,
        ev.PROP_HOST: parts.netloc,
        ev.PROP_PATHNAME: parts.path or "/",
    }
