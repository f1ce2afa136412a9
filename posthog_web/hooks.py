"""Per-client event hooks: ``super_properties`` and ``before_send`` (docs/groups.md)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from posthog_web import events as ev
from posthog_web.payloads import encode_event

__all__ = ["BeforeSend", "EventHooks", "encode_hooked"]

logger = logging.getLogger(__name__)

BeforeSend = Callable[[dict[str, Any]], "dict[str, Any] | None"]


class EventHooks:
    """Adds the super properties to every event, then runs ``before_send`` on it.

    Args:
        super_properties: properties every event carries; an event's own properties win.
        before_send: ``callable(event) -> event | None``, given the whole event dict
            (``event``, ``distinct_id``, ``properties``, ``timestamp``, ``uuid`` and any
            top-level ``$set``/``$set_once``) in the thread that sends it. None, a value
            that is not such a dict, or an exception drops the event (counted as
            ``dropped_before_send`` and logged); nothing is raised into the app.
        on_drop: called with ``"before_send"`` for each event dropped (the counter).
    """

    def __init__(
        self,
        super_properties: Mapping[str, Any] | None = None,
        before_send: BeforeSend | None = None,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        supers = ev.check_properties(super_properties, "super_properties")
        if supers:
            try:
                ev.encode_json(supers)
            except (TypeError, ValueError):
                raise TypeError(ev.describe_json_error(supers, "super_properties")) from None
        if before_send is not None and not callable(before_send):
            raise TypeError(
                f"before_send must be a callable(event) -> event | None, not "
                f"{type(before_send).__name__}"
            )
        self.super_properties = supers
        self.before_send = before_send
        self._on_drop = on_drop
        #: Whether there is anything to do (the client skips the hooks otherwise).
        self.active = bool(supers) or before_send is not None

    def apply(self, message: dict[str, Any]) -> dict[str, Any] | None:
        """The event to send, or None when ``before_send`` dropped it (already logged)."""
        supers = self.super_properties
        if supers:
            properties = message["properties"]
            for key, value in supers.items():
                properties.setdefault(key, value)
        hook = self.before_send
        if hook is None:
            return message
        name = message.get("event")
        try:
            result = hook(message)
        except Exception:
            logger.exception("posthog-web: before_send raised; the %r event is dropped", name)
            self.dropped()
            return None
        if result is None:
            logger.debug("posthog-web: before_send dropped the %r event", name)
            self.dropped()
            return None
        if not _is_event(result):
            logger.error(
                "posthog-web: before_send returned %s, not an event dict with event, "
                "distinct_id and properties; the %r event is dropped",
                type(result).__name__,
                name,
            )
            self.dropped()
            return None
        return result

    def dropped(self) -> None:
        """Count one event dropped by ``before_send``."""
        if self._on_drop is not None:
            self._on_drop("before_send")


def _is_event(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("event"), str)
        and isinstance(value.get("distinct_id"), str)
        and isinstance(value.get("properties"), dict)
    )


def encode_hooked(
    hooks: EventHooks,
    message: dict[str, Any],
    properties: dict[str, Any],
    top_level: dict[str, Any] | None,
) -> bytes | None:
    """``message`` through the hooks and encoded; None when ``before_send`` dropped it.

    The caller's own event is checked first, so a bad argument still raises at the call;
    an event ``before_send`` made unencodable is dropped and logged instead.
    """
    if top_level:
        message.update(top_level)
    if hooks.before_send is None:
        hooks.apply(message)
        return encode_event(message, properties, None, 0)
    encode_event(message, properties, None, 0)
    result = hooks.apply(message)
    if result is None:
        return None
    try:
        return encode_event(result, result["properties"], None, 0)
    except (TypeError, ValueError) as exc:
        logger.error("posthog-web: the event before_send returned is dropped: %s", exc)
        hooks.dropped()
        return None
