"""The framework-neutral request tracker shared by the Django and ASGI integrations.

An integration builds one :class:`Tracker` at start-up, then per request: ``start``
(the context; the visitor is resolved on first use), ``set_user`` (the logged-in user, if
any), ``finish`` (the page view decision, once the response is known) and
``response_cookies``. The tracker composes the parts that do the work, one job each:
:class:`~posthog_web.web.visitor.Visitors` (who the visitor is),
:class:`~posthog_web.web.login.Logins` (who is logged in),
:class:`~posthog_web.web.emitter.Emitter` (the events) and
:class:`~posthog_web.web.cookies.ResponseCookies` (the cookies a response sets).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from posthog_web.events import EVENT_SET, EVENT_SET_ONCE, PROP_SET, PROP_SET_ONCE
from posthog_web.web.bots import POSTHOG_JS_BLOCKED_UAS, SERVER_BLOCKED_UAS, BotMatcher
from posthog_web.web.context import RequestContext
from posthog_web.web.cookies import ResponseCookies
from posthog_web.web.emitter import Emitter
from posthog_web.web.error_options import exception_capture_for
from posthog_web.web.errors import RequestErrors
from posthog_web.web.flags import FlagReader
from posthog_web.web.groups import RequestGroups
from posthog_web.web.helper import RequestHelper
from posthog_web.web.identity import CookieSigner
from posthog_web.web.login import Logins
from posthog_web.web.options import TrackerOptions
from posthog_web.web.pageviews import UNTRACKED_REASONS, PageviewRules, is_page_response
from posthog_web.web.posthog_js import PostHogJS, posthog_js_config
from posthog_web.web.privacy import PrivacyPolicy
from posthog_web.web.properties import CAMPAIGN_PARAMS, RequestProperties
from posthog_web.web.request import RequestView, ResponseView, SetCookie
from posthog_web.web.titles import html_title
from posthog_web.web.visitor import UNRESOLVED, Visitors

if TYPE_CHECKING:
    from posthog_web.client import Client
    from posthog_web.flags.results import FlagResult

__all__ = ["Tracker", "TrackerOptions"]

logger = logging.getLogger(__name__)


class Tracker:
    """Compiled options plus the client; one per app, built at start-up.

    Args:
        client: the :class:`~posthog_web.Client` events are enqueued on.
        options: the :class:`TrackerOptions`; defaults when None.
    """

    def __init__(self, client: Client, options: TrackerOptions | None = None) -> None:
        self.client = client
        self.options = options = options or TrackerOptions()
        bots = None
        if options.filter_bots or options.bot_pageviews:
            bots = BotMatcher(
                POSTHOG_JS_BLOCKED_UAS + SERVER_BLOCKED_UAS + tuple(options.bot_user_agents)
            )
        self._rules = PageviewRules(
            exclude_paths=options.exclude_paths,
            include_paths=options.include_paths,
            static_prefixes=options.static_prefixes,
            predicate=options.record_pageview,
            # With bot_pageviews, bots pass the rules and the emitter renames their views.
            bots=None if options.bot_pageviews else bots,
        )
        if options.cookie_secret is None:
            logger.warning(
                "posthog-web: no cookie_secret; the anonymous-id cookie %r is not signed",
                options.anonymous_cookie_name,
            )
        signer = CookieSigner(options.cookie_secret)
        privacy = PrivacyPolicy(options, CAMPAIGN_PARAMS)
        api_key = _project_api_key(client)
        self._visitors = visitors = Visitors(options, api_key, signer, privacy)
        self._emitter = Emitter(
            client,
            visitors,
            privacy,
            RequestProperties(privacy.masker.mask),
            bot_pageviews=bots if options.bot_pageviews else None,
            personless_anonymous=options.person_profiles == "identified_only",
        )
        self._logins = Logins(visitors, self._emitter, privacy.ledger)
        self.errors = RequestErrors(
            exception_capture_for(getattr(client, "exception_capture", None), options),
            self._emitter.exception,
            autocapture=options.capture_exceptions,
        )
        self._groups = self._emitter.groups = RequestGroups(client, visitors)
        self._cookies = ResponseCookies(visitors, self.untracked)
        self._flags = FlagReader(client, visitors, self._emitter, self._groups)
        #: One flag for a request's visitor (and its groups), at most once per request:
        #: the reader's own method, as the request path's most frequent call.
        self.feature_flag: Callable[[RequestContext, str, bool], FlagResult] = self._flags.get
        self._posthog_js = posthog_js_config(options, client)
        self._lock = threading.Lock()
        self._skipped: dict[str, int] = {}

    # --- the request lifecycle --------------------------------------------------------

    def start(self, request: RequestView) -> RequestContext:
        """The context of ``request``; the visitor is resolved on first use (see ``resolve``)."""
        ctx = RequestContext(request=request, anonymous=UNRESOLVED, own_cookie=None)
        ctx.helper = RequestHelper(self, ctx)
        return ctx

    def resolve(self, ctx: RequestContext) -> None:
        """Resolve the visitor: tracing header, posthog-js cookie, our cookie, privacy.

        Run once, by the first call that needs the visitor, so a request that records
        nothing parses no cookie and verifies no signature.
        """
        self._visitors.resolve(ctx)

    def set_user(
        self,
        ctx: RequestContext,
        distinct_id: str | None,
        person_properties: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the logged-in user of this request (None: anonymous).

        An id PostHog treats as illegal is never sent: the request stays anonymous and a
        warning is logged. ``person_properties`` are sent with ``$identify`` only when
        they differ from the last ones sent for this user from this browser (the
        anonymous cookie keeps a digest) or by this process. The framework's answer,
        None included, wins over a user ``login()`` remembered (``remember_login``).
        """
        self._logins.set_user(ctx, distinct_id, person_properties)

    def finish(
        self,
        ctx: RequestContext,
        response: ResponseView,
        *,
        route: str | None = None,
        view: str | None = None,
        route_name: str | None = None,
        pageview: bool | None = None,
    ) -> None:
        """Record this request's page view if it is one (or the view asked for one).

        Args:
            ctx: the context from :meth:`start`.
            response: the response; its ``body``, when given, is read for ``<title>``.
            route: the matched route template, e.g. ``/products/<int:pk>/``.
            view: the view's dotted name.
            route_name: the matched route's name, with its namespace (``admin:index``).
            pageview: the verdict of an integration's own user predicate (one that takes
                the framework's request and response); None applies the rules.
        """
        if ctx.finished:
            return
        ctx.finished = True
        self.errors.finished(ctx, response.status)
        if pageview is None:
            pageview = self._rules.is_pageview(ctx.request, response)
        if not (ctx.page_requested or pageview):
            if is_page_response(response, ctx.request):
                self._note_skipped(ctx.request)
            return
        # The title: page(name), else pageview_properties(name), else the HTML <title>.
        title = ctx.page_name or ctx.pageview_name
        if title is None and response.body and not response.streaming:
            title = html_title(response.body, response.content_type, response.content_encoding)
        properties = ctx.pageview_properties or {}
        if ctx.page_properties:
            properties = {**properties, **ctx.page_properties}
        self._emitter.pageview(
            ctx, title, properties, route=route, view=view, route_name=route_name
        )

    def stats(self) -> dict[str, Any]:
        """This process's counters: ``{"skipped": {reason: count}}``.

        ``skipped`` counts the HTML pages (2xx, not streamed) that were not recorded as
        page views, by reason: ``"bot"``, ``"excluded_path"``, ``"not_included"``,
        ``"static"``, ``"method"``, ``"partial"``, ``"not_document"``, ``"prefetch"`` or
        ``"record_pageview"`` (the user predicate said no).
        """
        with self._lock:
            return {"skipped": dict(self._skipped)}

    def untracked(self, ctx: RequestContext) -> bool:
        """A bot or a path the rules exclude: no cookie and no per-visitor bootstrap.

        The view's own ``login()``, ``logout()`` or ``page()`` still set their cookies.
        """
        untracked = ctx.untracked
        if untracked is None:
            reason = self._rules.exclusion(ctx.request, visitor_only=True)
            untracked = ctx.untracked = reason in UNTRACKED_REASONS
        return untracked

    def per_visitor(self, ctx: RequestContext, cookies: Sequence[SetCookie]) -> bool:
        """Whether this response is one visitor's (cookies set, or a bootstrap rendered).

        Such a response gets :func:`~posthog_web.web.caching.private_cache_headers`.
        """
        return bool(cookies) or ctx.bootstrapped

    def request_excluded(self, request: RequestView) -> bool:
        """The rules that read the request alone (method, path, headers, bot) say no."""
        return self._rules.request_excluded(request)

    def rules_out(self, request: RequestView, *, excluded: bool | None = None) -> bool:
        """True when the request alone rules out a page view, whatever the response.

        ``excluded``: :meth:`request_excluded` of this request, when already known.
        """
        return self._rules.rules_out(request, excluded=excluded)

    def is_pageview(
        self, request: RequestView, response: ResponseView, *, excluded: bool | None = None
    ) -> bool:
        """The page view decision alone (the user predicate included)."""
        return self._rules.is_pageview(request, response, excluded=excluded)

    def response_cookies(self, ctx: RequestContext) -> list[SetCookie]:
        """The cookies to set on this response: a new or rotated anonymous id, a new link."""
        return self._cookies.for_response(ctx)

    def session_id(self, ctx: RequestContext) -> str | None:
        """This request's ``$session_id``: the browser's live one, else the server's own."""
        return self._visitors.session_id(ctx)

    def posthog_js(self, ctx: RequestContext) -> PostHogJS | None:
        """What a page needs to continue this visitor in posthog-js (see the snippet).

        None for an opted-out visitor: posthog-js then keeps its own opt-out. A bot or an
        excluded path (:meth:`untracked`) gets posthog-js without a bootstrap, the same
        for every visitor; otherwise the response is marked private (:meth:`per_visitor`).
        """
        config = self._posthog_js
        if not ctx.resolved:
            self._visitors.resolve(ctx)
        if ctx.opted_out or config is None:
            return None
        if self.untracked(ctx):
            return config  # the same page for every bot: nothing per visitor to cache
        ctx.bootstrapped = True
        bootstrap: dict[str, Any] = {
            "distinctID": self.distinct_id(ctx),
            "isIdentifiedID": self.is_identified(ctx),
        }
        session_id = self.session_id(ctx)
        if session_id is not None:
            bootstrap["sessionID"] = session_id
        flags, payloads = self._flags.bootstrap(ctx)
        if flags:
            bootstrap["featureFlags"] = flags
            if payloads:
                bootstrap["featureFlagPayloads"] = payloads
        reset = ctx.reset_posthog_js or (
            ctx.browser_identified and ctx.browser_id != bootstrap["distinctID"]
        )
        return config.with_bootstrap(bootstrap, reset=reset)

    # --- identity ---------------------------------------------------------------------

    def distinct_id(self, ctx: RequestContext) -> str:
        """The distinct id of this request's events (mints the anonymous id on first use)."""
        return self._visitors.distinct_id(ctx)

    def is_identified(self, ctx: RequestContext) -> bool:
        """Whether this request's events belong to an identified person."""
        return self._visitors.is_identified(ctx)

    def explicit_identity(self, ctx: RequestContext) -> bool:
        """Whether ``login()`` or ``logout()`` ran in this request."""
        return ctx.explicit_identity

    def login(
        self, ctx: RequestContext, distinct_id: str, properties: dict[str, Any] | None
    ) -> None:
        """Alias the anonymous id into ``distinct_id`` (with the guards), then identify."""
        self._logins.login(ctx, distinct_id, properties)

    def logout(self, ctx: RequestContext) -> None:
        """Forget the user and rotate the anonymous id (posthog-js ``reset()``)."""
        self._logins.logout(ctx)

    # --- events -------------------------------------------------------------------------

    def capture(
        self,
        ctx: RequestContext,
        event: str,
        properties: dict[str, Any],
        *,
        timestamp: str | None = None,
    ) -> None:
        """Send a custom event with the request context (arguments already checked)."""
        self._emitter.capture(ctx, event, properties, timestamp=timestamp)

    def capture_exception(
        self, ctx: RequestContext, exc: BaseException, properties: dict[str, Any]
    ) -> None:
        """Send ``$exception`` for ``exc`` with the request context (arguments checked)."""
        self.errors.capture_exception(ctx, exc, properties)

    def autocapture(
        self,
        ctx: RequestContext,
        exc: BaseException,
        source: str,
        *,
        status: int | None = None,
        handled: bool = False,
    ) -> None:
        """An exception escaped the view (see :meth:`RequestErrors.autocapture`)."""
        self.errors.autocapture(ctx, exc, source=source, status=status, handled=handled)

    def pageview_properties(
        self, ctx: RequestContext, name: str | None, properties: dict[str, Any]
    ) -> None:
        """Name the automatic page view / add properties to it; the rules still decide."""
        if name is not None:
            ctx.pageview_name = name
        if properties:
            if ctx.pageview_properties is None:
                ctx.pageview_properties = {}
            ctx.pageview_properties.update(properties)

    def page(self, ctx: RequestContext, name: str | None, properties: dict[str, Any]) -> None:
        """Name this request's page view, or record an extra one."""
        if ctx.page_requested or ctx.finished:
            self._emitter.pageview(ctx, name, properties)
            return
        ctx.page_requested = True
        ctx.page_name = name
        ctx.page_properties = properties

    def screen(self, ctx: RequestContext, name: str, properties: dict[str, Any]) -> None:
        """Send a ``$screen`` event."""
        self._emitter.screen(ctx, name, properties)

    def identify(
        self, ctx: RequestContext, properties: dict[str, Any], properties_once: dict[str, Any]
    ) -> None:
        """Send ``$identify`` with person properties for this visitor."""
        self._logins.identify(ctx, properties, properties_once)

    def alias(self, ctx: RequestContext, alias: str) -> None:
        """Send ``$create_alias``: ``alias``'s person joins this visitor's person."""
        self._emitter.alias(ctx, self._visitors.distinct_id(ctx), alias)

    # --- feature flags (web/flags.py) ------------------------------------------------

    async def afeature_flag(
        self, ctx: RequestContext, key: str, send_event: bool = True
    ) -> FlagResult:
        """:meth:`feature_flag` without blocking the event loop."""
        return await self._flags.aget(ctx, key, send_event)

    def all_flags(self, ctx: RequestContext) -> dict[str, FlagResult]:
        """Every flag that could be evaluated for this request's visitor."""
        return self._flags.all(ctx)

    async def aall_flags(self, ctx: RequestContext) -> dict[str, FlagResult]:
        """:meth:`all_flags` without blocking the event loop."""
        return await self._flags.aall(ctx)

    # --- groups and person properties (web/groups.py) ----------------------------------

    def groups(self, ctx: RequestContext) -> dict[str, str]:
        """This request's groups (the configured callable runs on first use)."""
        return dict(self._groups.of(ctx))

    def group(
        self, ctx: RequestContext, group_type: str, group_key: str, props: dict[str, Any] | None
    ) -> None:
        """Add a group to this request's events; send its properties when they changed."""
        self._groups.group(ctx, group_type, group_key, props)

    def set_person(self, ctx: RequestContext, properties: dict[str, Any], once: bool) -> None:
        """Send ``$set`` (``$set_once`` when ``once``); nothing for a personless visitor."""
        if not ctx.resolved:
            self._visitors.resolve(ctx)
        personless = self.options.person_profiles == "identified_only"
        if not properties or (personless and not self._visitors.is_identified(ctx)):
            return  # PostHog ignores person properties on personless events
        event, key = (EVENT_SET_ONCE, PROP_SET_ONCE) if once else (EVENT_SET, PROP_SET)
        self._emitter.person_update(ctx, event, {key: properties})

    # --- internals ----------------------------------------------------------------------

    @property
    def _identified(self) -> OrderedDict[str, bytes]:
        # The process memory of the person properties last sent, per user (tests read it).
        return self._logins.identified

    @property
    def _warned_ids(self) -> OrderedDict[str, None]:
        return self._logins.warned_ids

    def _note_skipped(self, request: RequestView) -> None:
        reason = self._rules.exclusion(request) or "record_pageview"
        with self._lock:
            self._skipped[reason] = self._skipped.get(reason, 0) + 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "posthog-web: no page view for %s %s: %s", request.method, request.path, reason
            )


def _project_api_key(client: Client) -> str | None:
    key = getattr(client, "api_key", None)
    return key if isinstance(key, str) else None
