"""A request's exceptions: ``$exception`` on the request's visitor, session and page.

:class:`RequestErrors` is the one place for the rules every adapter shares: which
exceptions autocapture sends (``capture_exceptions``, ``ignore_exceptions``), what request
context an ``$exception`` carries (the page view's masked location, method, route,
``$ip``, ``$session_id``/``$window_id`` and the response status, never headers, cookies or
bodies), and when it is sent (a view's exception waits for the status the framework
answered). The event itself is built by :class:`~posthog_web.errors.ExceptionCapture`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from posthog_web.errors import MECHANISM_GENERIC, MECHANISM_MIDDLEWARE, ExceptionCapture
from posthog_web.web.context import RequestContext
from posthog_web.web.guard import guarded
from posthog_web.web.properties import PROP_ROUTE, PROP_ROUTE_NAME, PROP_VIEW

__all__ = [
    "PROP_REQUEST_METHOD",
    "PROP_RESPONSE_STATUS",
    "SOURCE_ASGI",
    "SOURCE_DJANGO",
    "SOURCE_DRF",
    "SOURCE_FLASK",
    "SOURCE_WSGI",
    "RequestErrors",
]

logger = logging.getLogger(__name__)

PROP_REQUEST_METHOD = "$request_method"
PROP_RESPONSE_STATUS = "$response_status"
#: ``$exception_source`` of each autocapture, posthog-python's names.
SOURCE_DJANGO = "django.middleware"
SOURCE_DRF = "django_rest_framework.exception_handler"
SOURCE_ASGI = "asgi.middleware"
SOURCE_WSGI = "wsgi.middleware"
SOURCE_FLASK = "flask.got_request_exception"

#: Builds the event's properties from the request's, or None to send nothing.
Build = Callable[[dict[str, Any]], "dict[str, Any] | None"]
#: ``Emitter.exception(ctx, properties, build)``: the request's properties and the
#: caller's (masked) go to ``build``, whose result is sent as ``$exception``.
Emit = Callable[[RequestContext, dict[str, Any], Build], None]

_GUARD = guarded("exception capture")


class RequestErrors:
    """Sends a tracker's ``$exception`` events; one per tracker.

    Args:
        capture: builds the events (the client's, or one refined by the tracker options).
        emit: sends one for a request (``Emitter.exception``).
        autocapture: the ``capture_exceptions`` option.
    """

    def __init__(self, capture: ExceptionCapture, emit: Emit, *, autocapture: bool) -> None:
        self.capture = capture
        self._emit = emit
        self._autocapture = autocapture

    def capture_exception(
        self, ctx: RequestContext, exc: BaseException, properties: dict[str, Any]
    ) -> None:
        """The request helper's ``capture_exception`` (arguments checked): sent now, handled."""
        self._send(ctx, exc, properties, handled=True, manual=True, source=None)

    def autocapture(
        self,
        ctx: RequestContext,
        exc: BaseException,
        *,
        source: str,
        status: int | None = None,
        handled: bool = False,
    ) -> None:
        """An exception escaping a view (never raises: the app's exception goes on).

        With ``status`` (the response the framework answered) it is sent now; without,
        it waits for :meth:`finished`, where the status is known.
        """
        with _GUARD:
            if not self._autocapture or self.capture.is_ignored(exc):
                return
            if status is None and not ctx.finished:
                if ctx.pending_exception is None:
                    ctx.pending_exception, ctx.pending_source = exc, source
                return
            if status is not None:
                ctx.response_status = status
            self._send(ctx, exc, {}, handled=handled, manual=False, source=source)

    def escaped(
        self, ctx: RequestContext, exc: BaseException, *, source: str, sent: int | None
    ) -> None:
        """An exception escaping the app, to be re-raised (never raises).

        ``sent``: the status already on its way to the client; None when nothing was
        sent, so the server answers 500. An exception the framework noted first (Flask's
        signal) keeps that source; another one still waiting is sent with this status.
        """
        status = 500 if sent is None else sent
        if ctx.pending_exception is exc:
            source = ctx.pending_source or source
            ctx.pending_exception = None
        self.finished(ctx, status)
        self.autocapture(ctx, exc, source=source, status=status)

    def finished(self, ctx: RequestContext, status: int) -> None:
        """The response is known: note its status, send a view's waiting exception."""
        ctx.response_status = status
        exc = ctx.pending_exception
        if exc is not None:
            ctx.pending_exception = None
            with _GUARD:
                self._send(ctx, exc, {}, handled=False, manual=False, source=ctx.pending_source)

    def _send(
        self,
        ctx: RequestContext,
        exc: BaseException,
        properties: dict[str, Any],
        *,
        handled: bool,
        manual: bool,
        source: str | None,
    ) -> None:
        mechanism = MECHANISM_GENERIC if manual else MECHANISM_MIDDLEWARE
        capture = self.capture

        def build(props: dict[str, Any]) -> dict[str, Any] | None:
            self._add_request(ctx, props)
            return capture.build(
                exc,
                handled=handled,
                mechanism_type=mechanism,
                context_properties=props,
                source=source,
            )

        self._emit(ctx, properties, build)

    @staticmethod
    def _add_request(ctx: RequestContext, props: dict[str, Any]) -> None:
        # The caller's properties (already in props) win over these.
        found: dict[str, Any] = {PROP_REQUEST_METHOD: ctx.request.method}
        reader = ctx.route_reader
        if reader is not None:
            route, view, route_name = reader()
            found.update(
                (name, value)
                for name, value in (
                    (PROP_ROUTE, route),
                    (PROP_ROUTE_NAME, route_name),
                    (PROP_VIEW, view),
                )
                if value
            )
        if ctx.response_status is not None:
            found[PROP_RESPONSE_STATUS] = ctx.response_status
        for name, value in found.items():
            props.setdefault(name, value)
