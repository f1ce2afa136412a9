"""The events a request sends: :class:`Emitter` builds each one dict and enqueues it.

Every event carries the request's identity (``$session_id``, ``$window_id``, ``$ip``) and
``$process_person_profile``; a caller's properties are masked like the request's own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from posthog_web.events import (
    COOKIELESS_SENTINEL,
    EVENT_BOT_PAGEVIEW,
    EVENT_CREATE_ALIAS,
    EVENT_EXCEPTION,
    EVENT_IDENTIFY,
    EVENT_PAGEVIEW,
    EVENT_SCREEN,
    PROP_BROWSER_TYPE,
    PROP_GROUPS,
    PROP_PAGEVIEW_ID,
    PROP_PROCESS_PERSON_PROFILE,
    PROP_SCREEN_NAME,
    PROP_SESSION_ID,
    PROP_SET,
    PROP_SET_ONCE,
    PROP_WINDOW_ID,
    new_event,
    uuid7,
)
from posthog_web.web.bots import BotMatcher
from posthog_web.web.context import RequestContext
from posthog_web.web.privacy import PROP_COOKIELESS_MODE, PrivacyPolicy, add_ip
from posthog_web.web.properties import RequestProperties
from posthog_web.web.visitor import Visitors

if TYPE_CHECKING:
    from posthog_web.client import Client
    from posthog_web.web.groups import RequestGroups

__all__ = ["Emitter"]


class Emitter:
    """Sends the five operations' events for a request; one per tracker.

    Args:
        client: the client events are enqueued on.
        visitors: resolves the visitor each event is sent for.
        privacy: masks the caller's properties.
        properties: builds the request's own properties.
        bot_pageviews: with ``bot_pageviews``, renames bots' page views; else None.
        personless_anonymous: ``person_profiles="identified_only"``.
        groups: the request's groups (``$groups`` on every event), once the tracker
            sets it.
    """

    groups: RequestGroups | None = None

    def __init__(
        self,
        client: Client,
        visitors: Visitors,
        privacy: PrivacyPolicy,
        properties: RequestProperties,
        *,
        bot_pageviews: BotMatcher | None,
        personless_anonymous: bool,
    ) -> None:
        self.client = client
        self.properties = properties
        self._visitors = visitors
        self._privacy = privacy
        self._bot_pageviews = bot_pageviews
        self._personless_anonymous = personless_anonymous

    def capture(
        self,
        ctx: RequestContext,
        event: str,
        properties: dict[str, Any],
        *,
        timestamp: str | None = None,
    ) -> None:
        """Send a custom event with the request context (arguments already checked)."""
        props = self._context_properties(ctx)
        props.update(self._scrubbed(properties))
        self._enqueue(event, self._visitors.distinct_id(ctx), props, ctx, timestamp=timestamp)

    def screen(self, ctx: RequestContext, name: str, properties: dict[str, Any]) -> None:
        """Send a ``$screen`` event."""
        props = self._context_properties(ctx)
        props.update(self._scrubbed(properties))
        props[PROP_SCREEN_NAME] = name
        self._enqueue(EVENT_SCREEN, self._visitors.distinct_id(ctx), props, ctx)

    def pageview(
        self,
        ctx: RequestContext,
        title: str | None,
        properties: Mapping[str, Any],
        *,
        route: str | None = None,
        view: str | None = None,
        route_name: str | None = None,
    ) -> None:
        """Send ``$pageview`` (``$bot_pageview`` for a bot with ``bot_pageviews``)."""
        request = ctx.request
        props = self.properties.pageview(
            request, title=title, route=route, view=view, route_name=route_name
        )
        self._add_request_identity(ctx, props)
        if properties:
            props.update(self._scrubbed(properties))
        event_id = uuid7()
        props[PROP_PAGEVIEW_ID] = event_id
        event = EVENT_PAGEVIEW
        bots = self._bot_pageviews
        if bots is not None and bots.is_bot(request.headers.get("user-agent") or ""):
            event = EVENT_BOT_PAGEVIEW
            props[PROP_BROWSER_TYPE] = "bot"
        self._enqueue(event, self._visitors.distinct_id(ctx), props, ctx, uuid=event_id)

    def identify(
        self,
        ctx: RequestContext,
        distinct_id: str,
        properties: dict[str, Any] | None,
        properties_once: dict[str, Any] | None,
    ) -> None:
        """Send ``$identify`` with ``$set`` and ``$set_once``."""
        props: dict[str, Any] = {}
        self._add_request_identity(ctx, props)
        top: dict[str, Any] = {}
        if properties:
            top[PROP_SET] = properties
        if properties_once:
            top[PROP_SET_ONCE] = properties_once
        self._enqueue(EVENT_IDENTIFY, distinct_id, props, ctx, personless=False, top_level=top)

    def alias(self, ctx: RequestContext, distinct_id: str, alias: str) -> None:
        """Send ``$create_alias``: ``alias``'s person joins ``distinct_id``'s."""
        props: dict[str, Any] = {"distinct_id": distinct_id, "alias": alias}
        self._add_request_identity(ctx, props)
        self._enqueue(EVENT_CREATE_ALIAS, distinct_id, props, ctx, personless=False)

    def exception(
        self,
        ctx: RequestContext,
        properties: dict[str, Any],
        build: Callable[[dict[str, Any]], dict[str, Any] | None],
    ) -> None:
        """Send ``$exception``: ``build`` turns the request's and the caller's properties
        into the event's (None: nothing sent). An opted-out visitor's is never built."""
        if not ctx.resolved:
            self._visitors.resolve(ctx)
        if ctx.opted_out:
            return
        props = self._context_properties(ctx)
        if properties:
            props.update(self._scrubbed(properties))
        built = build(props)
        if built is not None:
            self._enqueue(EVENT_EXCEPTION, self._visitors.distinct_id(ctx), built, ctx)

    def person_update(self, ctx: RequestContext, event: str, top_level: dict[str, Any]) -> None:
        """Send ``$set`` or ``$set_once`` with the person properties at the top level."""
        props: dict[str, Any] = {}
        self._add_request_identity(ctx, props)
        self._enqueue(event, self._visitors.distinct_id(ctx), props, ctx, top_level=top_level)

    def _context_properties(self, ctx: RequestContext) -> dict[str, Any]:
        props = self.properties.context(ctx.request)
        self._add_request_identity(ctx, props)
        return props

    def _scrubbed(self, properties: Mapping[str, Any]) -> dict[str, Any]:
        # The request's own properties are built masked and capped; a caller's are
        # masked here, so a URL passed in properties is masked like the request's.
        props = dict(properties)
        if props:
            self._privacy.scrub(props)
        return props

    def _add_request_identity(self, ctx: RequestContext, props: dict[str, Any]) -> None:
        session_id = self._visitors.session_id(ctx)
        if session_id is not None:
            props[PROP_SESSION_ID] = session_id
        if ctx.window_id is not None:
            props[PROP_WINDOW_ID] = ctx.window_id
        add_ip(props, ctx.client_ip)

    def _enqueue(
        self,
        event: str,
        distinct_id: str,
        properties: dict[str, Any],
        ctx: RequestContext,
        *,
        personless: bool | None = None,
        timestamp: str | None = None,
        uuid: str | None = None,
        top_level: dict[str, Any] | None = None,
    ) -> None:
        visitors = self._visitors
        if not ctx.resolved:  # pragma: no cover - every caller resolved it already
            visitors.resolve(ctx)
        if ctx.opted_out:
            return
        if visitors.is_cookieless(ctx) and ctx.user_id is None:
            if event in (EVENT_IDENTIFY, EVENT_CREATE_ALIAS):
                return  # no stable id: nothing a person could be merged into
            personless = True
            if distinct_id == COOKIELESS_SENTINEL:
                properties[PROP_COOKIELESS_MODE] = True
        elif personless is None:
            personless = self._personless_anonymous and not visitors.is_identified(ctx)
        flags = ctx.flags
        if flags is not None and flags.read:
            # The flags this request read, for experiments (a caller's own values win).
            # Added in place: a copy of the page view's properties would cost more.
            read_flags = flags.event_properties()
            if properties.keys().isdisjoint(read_flags):
                properties.update(read_flags)
            else:
                for name, value in read_flags.items():
                    properties.setdefault(name, value)
        # Last, as posthog-js does: a caller cannot turn a personless visitor personful.
        properties[PROP_PROCESS_PERSON_PROFILE] = not personless
        if self.groups is not None and (groups := self.groups.of(ctx)):
            properties[PROP_GROUPS] = dict(groups)
        message = new_event(event, distinct_id, properties, timestamp=timestamp, uuid=uuid)
        if top_level:
            self._privacy.scrub(top_level)
            message.update(top_level)
        self.client.enqueue(message)
