"""The per-request helper (``request.posthog``) and :func:`current`.

One :class:`RequestHelper` is the public face of what the tracker resolved for a request.
It holds the tracker's per-request context without looking into it, and reaches the
tracker through :class:`HelperTracker` (what it needs from one), so this module imports
neither the tracker nor its context. A single ContextVar makes the helper reachable
anywhere inside the request; integrations ``bind`` it and ``unbind`` it in ``finally``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, ClassVar, TypeVar

from posthog_web.events import (
    format_timestamp,
    validate_distinct_id,
    validate_event_name,
)
from posthog_web.groups import validate_group_key, validate_group_type
from posthog_web.web.guard import guarded
from posthog_web.web.helper_arguments import check_name, checked_exception, checked_properties
from posthog_web.web.helper_flags import FlagsHelperMixin, NoopFlagsMixin
from posthog_web.web.helper_tracker import HelperTracker
from posthog_web.web.posthog_js import PostHogJS

__all__ = [
    "HelperTracker",
    "NoopHelper",
    "RequestHelper",
    "bind",
    "current",
    "unbind",
]

logger = logging.getLogger(__name__)

C = TypeVar("C")
C_contra = TypeVar("C_contra", contravariant=True)


class RequestHelper(FlagsHelperMixin):
    """PostHog for one request: ``request.posthog`` (Django), ``request.state.posthog`` (ASGI).

    Events sent through it carry the request's distinct id, ``$current_url``,
    ``$session_id`` and ``$ip``, and are personless for anonymous visitors unless the
    integration is configured with ``person_profiles="always"``. Bad arguments raise
    ``TypeError``/``ValueError`` naming the field; delivery problems never raise.
    """

    def __init__(self, tracker: HelperTracker[C], context: C) -> None:
        # The context is the tracker's; the helper only hands it back.
        self._tracker: HelperTracker[Any] = tracker
        self._context: object = context

    def __repr__(self) -> str:
        return f"<{type(self).__name__} distinct_id={self.distinct_id!r}>"

    @property
    def distinct_id(self) -> str:
        """The distinct id events of this request are sent under."""
        return self._tracker.distinct_id(self._context)

    @property
    def session_id(self) -> str | None:
        """The request's ``$session_id``: the browser's live one, else the server's own."""
        return self._tracker.session_id(self._context)

    @property
    def is_identified(self) -> bool:
        """True for a logged-in user (or a visitor the browser already identified)."""
        return self._tracker.is_identified(self._context)

    @property
    def explicit_identity(self) -> bool:
        """True once :meth:`login` or :meth:`logout` ran in this request.

        Integrations then stop applying the framework's user to this request.
        """
        return self._tracker.explicit_identity(self._context)

    def posthog_js(self) -> PostHogJS | None:
        """What a page needs to continue this visitor in posthog-js (token, script, options).

        The ``posthog.init`` options hold ``api_host``, ``bootstrap`` (``distinctID``,
        ``isIdentifiedID``, ``sessionID``) and ``capture_pageview: False`` (the server
        records page views), then the configured ``posthog_js_options``. None when nothing
        should be rendered (PostHog disabled, or the visitor opted out).
        :func:`posthog_web.web.snippet.posthog_snippet` renders it.
        """
        return self._tracker.posthog_js(self._context)

    def capture(
        self,
        event: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
    ) -> None:
        """Send ``event`` for this visitor with the request context and ``properties``.

        Args:
            event: the event name.
            properties: event properties (str keys, JSON-compatible values).
            timestamp: when it happened (aware or naive-UTC datetime or ISO 8601 str); now if None.
        """
        validate_event_name(event)
        props = checked_properties(properties, "properties")
        ts = None if timestamp is None else format_timestamp(timestamp)
        with guarded("capture"):
            self._tracker.capture(self._context, event, props, timestamp=ts)

    def pageview_properties(
        self, name: str | None = None, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Name this request's automatic page view and add properties to it.

        Unlike :meth:`page`, this never makes a page view: the rules (bots, HEAD,
        prefetch, partial and ``fetch()`` loads, non-HTML...) still decide, and when they
        say no nothing is sent. Calls add up (the last name wins). ``page()`` values win
        over these.

        Args:
            name: the page name, sent as ``title`` instead of the page's ``<title>``.
            properties: extra page view properties.
        """
        check_name(name)
        props = checked_properties(properties, "properties")
        with guarded("pageview_properties"):
            self._tracker.pageview_properties(self._context, name, props)

    def page(self, name: str | None = None, properties: Mapping[str, Any] | None = None) -> None:
        """Record a page view for this request, whatever the rules say.

        The first call makes this request a page view even if the rules would skip it
        (a bot, a ``fetch()``, JSON...), recorded when the response is ready; to name or
        extend the automatic page view without forcing one, use
        :meth:`pageview_properties`. A later call, or a call after the response, records
        an extra page view.

        Args:
            name: the page name, sent as ``title``.
            properties: extra page view properties.
        """
        check_name(name)
        props = checked_properties(properties, "properties")
        with guarded("page"):
            self._tracker.page(self._context, name, props)

    def screen(self, name: str, properties: Mapping[str, Any] | None = None) -> None:
        """Send a ``$screen`` event named ``name`` (the mobile SDK convention)."""
        validate_event_name(name, "name")
        props = checked_properties(properties, "properties")
        with guarded("screen"):
            self._tracker.screen(self._context, name, props)

    def identify(
        self,
        properties: Mapping[str, Any] | None = None,
        properties_once: Mapping[str, Any] | None = None,
    ) -> None:
        """Set person properties for this visitor (``$set`` and ``$set_once``)."""
        props = checked_properties(properties, "properties")
        once = checked_properties(properties_once, "properties_once")
        with guarded("identify"):
            self._tracker.identify(self._context, props, once)

    def alias(self, alias: str) -> None:
        """Merge the person of ``alias`` into this visitor's person (``$create_alias``)."""
        validate_distinct_id(alias, "alias")
        with guarded("alias"):
            self._tracker.alias(self._context, alias)

    def login(self, distinct_id: str, properties: Mapping[str, Any] | None = None) -> None:
        """Switch this request to the logged-in user ``distinct_id``.

        The visitor's anonymous id is aliased into the user once, unless it is not
        anonymous or this browser already linked it to a user; then ``$identify`` sends
        ``properties`` as person properties (skipped when ``properties`` is None).
        """
        validate_distinct_id(distinct_id)
        props = None if properties is None else checked_properties(properties, "properties")
        with guarded("login"):
            self._tracker.login(self._context, distinct_id, props)

    def logout(self) -> None:
        """Forget the user and rotate the anonymous id, as posthog-js ``reset()`` does."""
        with guarded("logout"):
            self._tracker.logout(self._context)

    def capture_exception(
        self, exc: BaseException | None = None, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Send an ``$exception`` for this visitor, with the request's masked context.

        Attributed to the request's distinct id and session, with ``$current_url``,
        ``$pathname``, ``$request_method``, the route, ``$ip`` and, once known, the response
        status (docs/errors.md). Marked handled; sent even when autocapture is off.

        Args:
            exc: the exception; None: the one being handled (``sys.exc_info()``).
            properties: more event properties (a ``$exception_fingerprint`` here sets
                PostHog's grouping).
        """
        error = checked_exception(exc)
        props = checked_properties(properties, "properties")
        with guarded("capture_exception"):
            self._tracker.capture_exception(self._context, error, props)

    def _autocapture(
        self, exc: BaseException, source: str, *, status: int | None = None, handled: bool = False
    ) -> None:
        # For the adapters (Django's process_exception, DRF's handler): never raises.
        with guarded("exception capture"):
            self._tracker.autocapture(self._context, exc, source, status=status, handled=handled)

    @property
    def groups(self) -> dict[str, str]:
        """This request's groups, ``{group_type: group_key}`` (a copy)."""
        with guarded("groups"):
            return self._tracker.groups(self._context)
        return {}

    def group(
        self, group_type: str, group_key: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        """Make every later event of this request (the page view included) carry this group.

        With ``properties``, ``$groupidentify`` sets them on the group, only when they
        differ from the last ones this process sent for it (docs/groups.md).
        """
        kind = validate_group_type(group_type)
        key = validate_group_key(group_key)
        props = None if properties is None else checked_properties(properties, "properties")
        with guarded("group"):
            self._tracker.group(self._context, kind, key, props)

    def set(self, properties: Mapping[str, Any]) -> None:
        """Set person properties for this visitor (a ``$set`` event; none if personless)."""
        props = checked_properties(properties, "properties")
        with guarded("set"):
            self._tracker.set_person(self._context, props, False)

    def set_once(self, properties: Mapping[str, Any]) -> None:
        """Set person properties not set yet (a ``$set_once`` event; none if personless)."""
        props = checked_properties(properties, "properties")
        with guarded("set_once"):
            self._tracker.set_person(self._context, props, True)


class NoopHelper(NoopFlagsMixin, RequestHelper):
    """What :func:`current` returns outside a request: checks arguments, sends nothing.

    Args:
        reason: why nothing is sent, logged once per reason on first use.
    """

    _warned: ClassVar[set[str]] = set()

    def __init__(self, reason: str = "posthog_web.current() was used outside a request") -> None:
        self._reason = reason

    def __repr__(self) -> str:
        return "<NoopHelper>"

    def _note(self) -> None:
        if self._reason not in NoopHelper._warned:
            NoopHelper._warned.add(self._reason)
            logger.warning(
                "posthog-web: %s; events sent through it are dropped (logged once)", self._reason
            )

    @property
    def distinct_id(self) -> str:
        self._note()
        return ""

    @property
    def session_id(self) -> str | None:
        return None

    @property
    def is_identified(self) -> bool:
        return False

    @property
    def explicit_identity(self) -> bool:
        return False

    def posthog_js(self) -> PostHogJS | None:
        return None

    def capture(
        self, event: str, properties: Mapping[str, Any] | None = None, timestamp: object = None
    ) -> None:
        validate_event_name(event)
        checked_properties(properties, "properties")
        if timestamp is not None:
            format_timestamp(timestamp)
        self._note()

    def pageview_properties(
        self, name: str | None = None, properties: Mapping[str, Any] | None = None
    ) -> None:
        check_name(name)
        checked_properties(properties, "properties")
        self._note()

    def page(self, name: str | None = None, properties: Mapping[str, Any] | None = None) -> None:
        check_name(name)
        checked_properties(properties, "properties")
        self._note()

    def screen(self, name: str, properties: Mapping[str, Any] | None = None) -> None:
        validate_event_name(name, "name")
        checked_properties(properties, "properties")
        self._note()

    def identify(
        self,
        properties: Mapping[str, Any] | None = None,
        properties_once: Mapping[str, Any] | None = None,
    ) -> None:
        checked_properties(properties, "properties")
        checked_properties(properties_once, "properties_once")
        self._note()

    def alias(self, alias: str) -> None:
        validate_distinct_id(alias, "alias")
        self._note()

    def login(self, distinct_id: str, properties: Mapping[str, Any] | None = None) -> None:
        validate_distinct_id(distinct_id)
        checked_properties(properties, "properties")
        self._note()

    def logout(self) -> None:
        self._note()

    def capture_exception(
        self, exc: BaseException | None = None, properties: Mapping[str, Any] | None = None
    ) -> None:
        checked_exception(exc)
        checked_properties(properties, "properties")
        self._note()

    def _autocapture(
        self, exc: BaseException, source: str, *, status: int | None = None, handled: bool = False
    ) -> None:
        pass

    @property
    def groups(self) -> dict[str, str]:
        return {}

    def group(
        self, group_type: str, group_key: str, properties: Mapping[str, Any] | None = None
    ) -> None:
        validate_group_type(group_type)
        validate_group_key(group_key)
        checked_properties(properties, "properties")
        self._note()

    def set(self, properties: Mapping[str, Any]) -> None:
        checked_properties(properties, "properties")
        self._note()

    def set_once(self, properties: Mapping[str, Any]) -> None:
        checked_properties(properties, "properties")
        self._note()


_NOOP = NoopHelper()
_current: ContextVar[RequestHelper | None] = ContextVar("posthog_web_helper", default=None)


def current() -> RequestHelper:
    """The helper of the request being handled, or a :class:`NoopHelper` outside one."""
    return _current.get() or _NOOP


def bind(helper: RequestHelper) -> Token[RequestHelper | None]:
    """Make ``helper`` the current one; pass the token to :func:`unbind` in ``finally``."""
    return _current.set(helper)


def unbind(token: Token[RequestHelper | None]) -> None:
    """Restore the helper that was current before :func:`bind`."""
    _current.reset(token)
