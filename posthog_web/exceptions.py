"""``Client.capture_exception``: the glue between the client and ``errors/``.

:class:`ExceptionsMixin` checks the call's arguments, asks
:class:`~posthog_web.errors.ExceptionCapture` for the ``$exception`` properties, and sends
the event through the client's own ``_send``.
"""

from __future__ import annotations

import sys
import uuid as uuid_module
from collections.abc import Callable, Mapping
from typing import Any

from posthog_web import events as ev
from posthog_web.errors import MECHANISM_GENERIC, ExceptionCapture
from posthog_web.payloads import check_encodable

__all__ = ["ExceptionsMixin"]


class ExceptionsMixin:
    """Error tracking methods for :class:`~posthog_web.Client` (see docs/errors.md)."""

    exception_capture: ExceptionCapture
    # PersonsMixin's; only annotated, so it does not shadow it in Client's MRO.
    _add_groups: Callable[[dict[str, Any], object], None]

    def _send(  # implemented by Client
        self,
        event: str,
        distinct_id: object,
        properties: dict[str, Any],
        timestamp: object,
        event_uuid: str | None,
        top_level: dict[str, Any] | None = None,
    ) -> int | None:
        raise NotImplementedError

    def capture_exception(
        self,
        exc: BaseException | None = None,
        *,
        distinct_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        handled: bool = True,
        groups: Mapping[str, str] | None = None,
    ) -> int | None:
        """Capture an ``$exception`` for PostHog's error tracking.

        Args:
            exc: the exception; None: the one being handled (``sys.exc_info()``).
            distinct_id: the person it happened to; None sends a personless event
                (a random distinct id and ``$process_person_profile: false``).
            properties: more event properties (a ``$exception_fingerprint`` here sets
                PostHog's grouping).
            timestamp: when it happened (as for :meth:`capture`).
            handled: whether the app dealt with it (PostHog's "handled" flag).
            groups: ``{group_type: group_key}``, sent as ``$groups`` (docs/groups.md).

        Returns:
            In sync mode the HTTP status PostHog answered; otherwise None. None also when
            nothing is sent: the exception was captured before, the flood limit held it
            back (see docs/errors.md), or building the event failed (logged).
        """
        if exc is None:
            exc = sys.exc_info()[1]
            if exc is None:
                raise ValueError("exc is None and no exception is being handled")
        elif not isinstance(exc, BaseException):
            raise TypeError(f"exc must be an exception instance, not {type(exc).__name__}")
        if not isinstance(handled, bool):
            raise TypeError(f"handled must be a bool, not {type(handled).__name__}")
        return self._capture_exception(
            exc,
            distinct_id=distinct_id,
            properties=properties,
            timestamp=timestamp,
            handled=handled,
            groups=groups,
            mechanism_type=MECHANISM_GENERIC,
            level="error",
            source=None,
        )

    def _capture_exception(
        self,
        exc: BaseException,
        *,
        distinct_id: str | None,
        properties: Mapping[str, Any] | None,
        timestamp: object,
        handled: bool,
        groups: Mapping[str, str] | None = None,
        mechanism_type: str,
        level: str,
        source: str | None,
    ) -> int | None:
        did = None if distinct_id is None else ev.validate_distinct_id(distinct_id)
        props = ev.check_properties(properties)
        stamp = None if timestamp is None else ev.format_timestamp(timestamp)
        if props:
            check_encodable(props)
        group_props: dict[str, Any] = {}
        self._add_groups(group_props, groups)
        built = self.exception_capture.build(
            exc,
            handled=handled,
            mechanism_type=mechanism_type,
            context_properties=props,
            level=level,
            source=source,
        )
        if built is None:
            return None
        built.update(group_props)
        if did is None:
            did = str(uuid_module.uuid4())
            built.setdefault(ev.PROP_PROCESS_PERSON_PROFILE, False)
        return self._send(ev.EVENT_EXCEPTION, did, built, stamp, None)
