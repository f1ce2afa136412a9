"""The framework-neutral request tracker shared by the Django and ASGI integrations.

An integration builds one :class:`Tracker` at start-up, then per request: ``start``
(resolve the visitor), ``set_user`` (the logged-in user, if any), ``finish`` (the page
view decision, once the response is known) and ``response_cookies``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from posthog_web.bots import POSTHOG_JS_BLOCKED_UAS, SERVER_BLOCKED_UAS, BotMatcher
from posthog_web.context import RequestContext, RequestHelper
from posthog_web.events import (
    COOKIELESS_SENTINEL,
    EVENT_BOT_PAGEVIEW,
    EVENT_CREATE_ALIAS,
    EVENT_IDENTIFY,
    EVENT_PAGEVIEW,
    EVENT_SCREEN,
    PROP_BROWSER_TYPE,
    PROP_PAGEVIEW_ID,
    PROP_PROCESS_PERSON_PROFILE,
    PROP_SCREEN_NAME,
    PROP_SESSION_ID,
    PROP_SET,
    PROP_SET_ONCE,
    PROP_WINDOW_ID,
    encode_json,
    is_uuid,
    is_uuid7,
    new_event,
    uuid7,
    validate_distinct_id,
)
from posthog_web.identity import (
    HEADER_DISTINCT_ID,
    HEADER_SESSION_ID,
    HEADER_WINDOW_ID,
    SOURCE_COOKIE,
    SOURCE_NEW,
    AnonymousCookie,
    AnonymousIdentity,
    CookieSigner,
    is_opt_out,
    opt_out_cookie_name,
    parse_posthog_cookie,
    plan_login,
    plan_logout,
    posthog_cookie_name,
    resolve_anonymous,
    sanitize_header,
    usable_distinct_id,
)
from posthog_web.pageviews import (
    CAMPAIGN_PARAMS,
    UNTRACKED_REASONS,
    PageviewRules,
    RequestProperties,
    is_page_response,
)
from posthog_web.privacy import (
    PROP_COOKIELESS_MODE,
    CookielessMode,
    IPMode,
    PrivacyPolicy,
    add_ip,
    check_cookie_name,
    check_privacy_options,
)
from posthog_web.sessions import SessionCookie
from posthog_web.snippet import (
    DEFAULT_POSTHOG_JS_SRC,
    PostHogJS,
    check_posthog_js_options,
    posthog_js_config,
)
from posthog_web.titles import html_title
from posthog_web.web import RequestView, ResponseView, SetCookie

if TYPE_CHECKING:
    from posthog_web.client import Client

__all__ = ["Tracker", "TrackerOptions"]

logger = logging.getLogger(__name__)

ONE_YEAR = 365 * 24 * 3600
# The identity of a context not resolved yet; never read before Tracker.resolve ran.
_UNRESOLVED = AnonymousIdentity(None, SOURCE_NEW)
_IDENTIFY_CACHE_SIZE = 10_000
_WARNED_IDS_SIZE = 1_000


@dataclass(frozen=True)
class TrackerOptions:
    """Every option of the request tracker, with its default.

    Django reads them from ``POSTHOG_WEB`` (upper-case keys); the ASGI middleware takes
    them as keyword arguments of the same lower-case names.

    Args:
        exclude_paths: regular expressions (``re.search`` on the path) that never record
            page views, added to the built-in ones (health checks, ``robots.txt``,
            ``favicon.ico``, ``sitemap.xml``, ``/.well-known/``).
        include_paths: if not empty, only matching paths record page views.
        static_prefixes: URL prefixes of static and media files (never page views).
        record_pageview: ``f(request, response) -> bool | None`` deciding per request;
            None (or a None result) keeps the default rules.
        person_profiles: ``"identified_only"`` (anonymous events are personless, like
            posthog-js) or ``"always"``.
        anonymous_cookie_name: the name of the package's own anonymous-id cookie.
        cookie_secret: the key that signs that cookie (Django: ``SECRET_KEY``).
        cookie_max_age: its lifetime in seconds (one year).
        cookie_secure: force the Secure flag on or off; None sets it on HTTPS requests.
        cookie_domain: the cookie's Domain attribute; None for the current host only.
        capture_tracing_headers: read posthog-js's ``X-POSTHOG-DISTINCT-ID``,
            ``X-POSTHOG-SESSION-ID`` and ``X-POSTHOG-WINDOW-ID`` headers.
        read_posthog_js_cookie: read the ``ph_<api key>_posthog`` cookie for the
            visitor's id and session, so server and browser agree.
        session_idle_timeout_seconds: posthog-js's ``session_idle_timeout_seconds``; a
            browser session idle for longer is not reused (clamped to 60 s..10 h).
        filter_bots: skip page views from known bots and HTTP libraries.
        bot_user_agents: extra lower-case User-Agent fragments that mark a bot.
        bot_pageviews: record bots' page views as ``$bot_pageview`` with
            ``$browser_type: "bot"`` (posthog-js's convention) instead of skipping them.
        session_cookie_name: the cookie holding the server-side session (a UUIDv7
            ``$session_id``, used when the browser sends no live posthog-js session).
        posthog_js_src: where :func:`~posthog_web.snippet.posthog_snippet` loads
            posthog-js from (your copy of ``posthog-js/dist/array.full.js``).
        posthog_js_api_host: the ``api_host`` posthog-js sends to; None: the client's host.
        posthog_js_options: more ``posthog.init`` options for the snippet (JSON values).
        masked_query_params: more query parameter names whose values are sent as
            ``<masked>`` in URLs, added to the built-in secret-looking names.
        kept_query_params: query parameter names never masked.
        query_allowlist: mask every query parameter except ``kept_query_params`` and
            the UTM and click-id parameters (those are always kept).
        trusted_proxies: addresses and CIDR ranges of your reverse proxies (``"*"``
            for every peer, ``"unix"`` for Unix sockets); only their
            ``X-Forwarded-For`` is read for ``$ip``.
        ip_mode: ``"full"`` (the visitor's address as ``$ip``), ``"anonymize"`` (IPv4
            last octet and IPv6 last 80 bits zeroed) or ``"off"`` (no ``$ip``,
            ``$geoip_disable: true``).
        respect_gpc: a request with ``Sec-GPC: 1`` sends no events and gets no cookies.
        respect_dnt: the same for ``DNT: 1``.
        cookieless_mode: ``"off"``, ``"server_hash"`` (anonymous visitors sent as
            ``$posthog_cookieless`` for PostHog's daily hash) or ``"per_request"``
            (a fresh personless id per request); no cookie is set in either.
        remember_login: after ``login(user_id)``, keep the user in the signed
            anonymous-id cookie until ``logout()`` or the cookie's expiry, so requests
            that do not call ``login()`` still belong to the user. Only with a
            ``cookie_secret`` (an unsigned cookie is never trusted for a user). The
            Django integration turns it off: Django's session knows the user.
    """

    exclude_paths: Sequence[str] = ()
    include_paths: Sequence[str] = ()
    static_prefixes: Sequence[str] = ()
    record_pageview: Callable[[RequestView, ResponseView], bool | None] | None = None
    person_profiles: Literal["identified_only", "always"] = "identified_only"
    anonymous_cookie_name: str = "ph_web_id"
    cookie_secret: str | bytes | None = None
    cookie_max_age: int = ONE_YEAR
    cookie_secure: bool | None = None
    cookie_domain: str | None = None
    capture_tracing_headers: bool = True
    read_posthog_js_cookie: bool = True
    session_idle_timeout_seconds: int = 1800
    filter_bots: bool = True
    bot_user_agents: Sequence[str] = ()
    bot_pageviews: bool = False
    session_cookie_name: str = "ph_web_session"
    posthog_js_src: str = DEFAULT_POSTHOG_JS_SRC
    posthog_js_api_host: str | None = None
    posthog_js_options: Mapping[str, Any] | None = None
    masked_query_params: Sequence[str] = ()
    kept_query_params: Sequence[str] = ()
    query_allowlist: bool = False
    trusted_proxies: Sequence[str] = ()
    ip_mode: IPMode = "full"
    respect_gpc: bool = True
    respect_dnt: bool = False
    cookieless_mode: CookielessMode = "off"
    remember_login: bool = True

    def __post_init__(self) -> None:
        for name in ("exclude_paths", "include_paths", "static_prefixes", "bot_user_agents"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(
                    f"{name} must be a list or tuple of str, not {type(value).__name__}"
                )
            for item in value:
                if not isinstance(item, str):
                    raise TypeError(f"{name} entries must be str, not {type(item).__name__}")
            object.__setattr__(self, name, tuple(value))
        if self.record_pageview is not None and not callable(self.record_pageview):
            raise TypeError("record_pageview must be a callable or None")
        if self.person_profiles not in ("identified_only", "always"):
            raise ValueError(
                "person_profiles must be 'identified_only' or 'always', "
                f"not {self.person_profiles!r}"
            )
        if not isinstance(self.anonymous_cookie_name, str) or not self.anonymous_cookie_name:
            raise ValueError("anonymous_cookie_name must be a non-empty str")
        if self.cookie_secret is not None and not isinstance(self.cookie_secret, (str, bytes)):
            raise TypeError("cookie_secret must be a str, bytes or None")
        for name in ("cookie_max_age", "session_idle_timeout_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive int (seconds), not {value!r}")
        if self.cookie_secure is not None and not isinstance(self.cookie_secure, bool):
            raise TypeError("cookie_secure must be True, False or None")
        if self.cookie_domain is not None and not isinstance(self.cookie_domain, str):
            raise TypeError("cookie_domain must be a str or None")
        for name in (
            "capture_tracing_headers",
            "read_posthog_js_cookie",
            "filter_bots",
            "bot_pageviews",
            "remember_login",
        ):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False")
        check_privacy_options(self)
        check_cookie_name("session_cookie_name", self.session_cookie_name)
        check_posthog_js_options(self)


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
        # With bot_pageviews, bots pass the rules and their page views are renamed.
        self._bot_pageviews = bots if options.bot_pageviews else None
        self._rules = PageviewRules(
            exclude_paths=options.exclude_paths,
            include_paths=options.include_paths,
            static_prefixes=options.static_prefixes,
            predicate=options.record_pageview,
            bots=None if options.bot_pageviews else bots,
        )
        if options.cookie_secret is None:
            logger.warning(
                "posthog-web: no cookie_secret; the anonymous-id cookie %r is not signed",
                options.anonymous_cookie_name,
            )
        self._signer = CookieSigner(options.cookie_secret)
        self._privacy = PrivacyPolicy(options, CAMPAIGN_PARAMS)
        self._properties = RequestProperties(self._privacy.masker.mask)
        self._cookies = options.cookieless_mode == "off"
        # Without a secret anyone could write a user id into the cookie.
        self._remember = options.remember_login and self._cookies and bool(options.cookie_secret)
        api_key = _project_api_key(client)
        self._posthog_js_cookie = (
            posthog_cookie_name(api_key)
            if options.read_posthog_js_cookie and isinstance(api_key, str) and api_key
            else None
        )
        self._idle_ms = min(max(options.session_idle_timeout_seconds, 60), 36_000) * 1000
        self._opt_out_cookie = opt_out_cookie_name(api_key) if api_key else None
        self._sessions = SessionCookie(self._signer, idle_timeout=self._idle_ms // 1000)
        self._posthog_js = posthog_js_config(options, client)
        self._personless_anonymous = options.person_profiles == "identified_only"
        self._identified: OrderedDict[str, bytes] = OrderedDict()
        self._warned_ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._skipped: dict[str, int] = {}

    # --- the request lifecycle --------------------------------------------------------

    def start(self, request: RequestView) -> RequestContext:
        """The context of ``request``; the visitor is resolved on first use (see ``resolve``)."""
        ctx = RequestContext(request=request, anonymous=_UNRESOLVED, own_cookie=None)
        ctx.helper = RequestHelper(self, ctx)
        return ctx

    def resolve(self, ctx: RequestContext) -> None:
        """Resolve the visitor: tracing header, posthog-js cookie, our cookie, privacy.

        Run once, by the first call that needs the visitor, so a request that records
        nothing parses no cookie and verifies no signature.
        """
        if ctx.resolved:
            return
        ctx.resolved = True
        request = ctx.request
        headers, cookies, options = request.headers, request.cookies, self.options
        privacy = self._privacy
        own = (
            self._signer.loads(cookies.get(options.anonymous_cookie_name))
            if self._cookies
            else None
        )
        posthog_js = None
        if self._posthog_js_cookie is not None:
            raw = cookies.get(self._posthog_js_cookie)
            if raw:
                posthog_js = parse_posthog_cookie(
                    raw, now_ms=time.time_ns() // 1_000_000, idle_timeout_ms=self._idle_ms
                )
        header_id = session_id = window_id = None
        if options.capture_tracing_headers:
            raw_id = headers.get(HEADER_DISTINCT_ID)
            if raw_id is not None:
                header_id = usable_distinct_id(sanitize_header(raw_id))
            raw_session = headers.get(HEADER_SESSION_ID)
            if raw_session is not None:
                session_id = _uuid_header(raw_session, is_uuid7)
            raw_window = headers.get(HEADER_WINDOW_ID)
            if raw_window is not None:
                window_id = _uuid_header(raw_window, is_uuid)
        if posthog_js is not None and posthog_js.distinct_id is not None:
            ctx.browser_id = posthog_js.distinct_id
            ctx.browser_identified = posthog_js.identified
            if own is not None and own.retired:
                ctx.reset_posthog_js = self._signer.anon_tag(posthog_js.distinct_id) in own.retired
        if session_id is None and posthog_js is not None and not ctx.reset_posthog_js:
            # A retired posthog-js id's session is the previous visitor's, retired too.
            session_id = posthog_js.session_id
        anonymous = resolve_anonymous(header_id, posthog_js, own, self._signer)
        ctx.anonymous = anonymous
        ctx.own_cookie = own
        if (
            self._remember
            and own is not None
            and own.user
            and not ctx.user_set
            and not ctx.explicit_identity
        ):
            ctx.user_id, ctx.user_remembered = own.user, True
        ctx.session_id = session_id
        ctx.window_id = window_id
        ctx.anon_id = anonymous.anon_id
        ctx.client_ip = privacy.ip.resolve(request)
        ctx.opted_out = self._opted_out(request)

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
        ctx.user_set = True
        ctx.user_remembered = False
        if distinct_id is None:
            ctx.user_id = None
            return
        try:
            validate_distinct_id(distinct_id)
        except (TypeError, ValueError) as exc:
            self._warn_illegal(distinct_id, exc)
            ctx.user_id = None
            return
        ctx.user_id = distinct_id
        if person_properties is not None:
            self._identify_if_changed(ctx, dict(person_properties))

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
        if pageview is None:
            pageview = self._rules.is_pageview(ctx.request, response)
        if not (ctx.page_requested or pageview):
            if is_page_response(response):
                self._note_skipped(ctx.request)
            return
        # The title: page(name), else pageview_properties(name), else the HTML <title>.
        title = ctx.page_name or ctx.pageview_name
        if title is None and response.body and not response.streaming:
            title = html_title(response.body, response.content_type)
        properties = ctx.pageview_properties or {}
        if ctx.page_properties:
            properties = {**properties, **ctx.page_properties}
        self._send_pageview(ctx, title, properties, route=route, view=view, route_name=route_name)

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

        Such a response gets :func:`~posthog_web.caching.private_cache_headers`.
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
        if not ctx.resolved:
            # Nothing was minted or rotated: only an opt-out has cookies to expire.
            if self._opted_out(ctx.request):
                return self._forget_cookies(ctx)
            return []
        if ctx.opted_out:
            return self._forget_cookies(ctx)
        # The view's own login(), logout() or page() is tracking it asked for.
        if not (ctx.explicit_identity or ctx.page_requested) and self.untracked(ctx):
            return []
        cookie, session = ctx.set_cookie, ctx.set_session
        if (cookie is None and session is None) or not self._cookies:
            return []
        options = self.options
        secure = ctx.request.is_secure if options.cookie_secure is None else options.cookie_secure
        cookies = []
        if cookie is not None:
            cookies.append(
                SetCookie(
                    name=options.anonymous_cookie_name,
                    value=self._signer.dumps(cookie),
                    max_age=options.cookie_max_age,
                    secure=secure,
                    domain=options.cookie_domain,
                )
            )
        if session is not None:
            cookies.append(
                SetCookie(
                    name=options.session_cookie_name,
                    value=self._sessions.dumps(session),
                    max_age=self._sessions.max_age,
                    secure=secure,
                    domain=options.cookie_domain,
                )
            )
        return cookies

    def session_id(self, ctx: RequestContext) -> str | None:
        """This request's ``$session_id``: the browser's live one, else the server's own.

        The server's session is read (or started) on first use; its cookie goes out with
        the response only when it is new or its last activity needs refreshing.
        """
        if not ctx.resolved:
            self.resolve(ctx)
        if ctx.session_id is None and not ctx.session_checked:
            ctx.session_checked = True
            if self._cookies:
                raw = ctx.request.cookies.get(self.options.session_cookie_name)
                ctx.session_id, ctx.set_session = self._sessions.resume(raw, _now_ms())
        return ctx.session_id

    def posthog_js(self, ctx: RequestContext) -> PostHogJS | None:
        """What a page needs to continue this visitor in posthog-js (see the snippet).

        None for an opted-out visitor: posthog-js then keeps its own opt-out. A bot or an
        excluded path (:meth:`untracked`) gets posthog-js without a bootstrap, the same
        for every visitor; otherwise the response is marked private (:meth:`per_visitor`).
        """
        config = self._posthog_js
        if not ctx.resolved:
            self.resolve(ctx)
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
        reset = ctx.reset_posthog_js or (
            ctx.browser_identified and ctx.browser_id != bootstrap["distinctID"]
        )
        return config.with_bootstrap(bootstrap, reset=reset)

    # --- identity ---------------------------------------------------------------------

    def distinct_id(self, ctx: RequestContext) -> str:
        """The distinct id of this request's events (mints the anonymous id on first use)."""
        if not ctx.resolved:
            self.resolve(ctx)
        if (ctx.user_id is None or ctx.user_remembered) and ctx.refresh_user is not None:
            # A framework user appearing mid-request wins over a remembered one too.
            ctx.refresh_user()
        if ctx.user_id is not None:
            return ctx.user_id
        anon_id = ctx.anon_id
        if anon_id is None:
            if self._cookies:
                cookie = self._signer.new()
                anon_id = ctx.anon_id = cookie.anon_id
                ctx.set_cookie = cookie
            else:
                anon_id = ctx.anon_id = self._cookieless_id(ctx)
        ctx.anon_used = True
        return anon_id

    def is_identified(self, ctx: RequestContext) -> bool:
        """Whether this request's events belong to an identified person."""
        if not ctx.resolved:
            self.resolve(ctx)
        if (ctx.user_id is None or ctx.user_remembered) and ctx.refresh_user is not None:
            # A framework user appearing mid-request wins over a remembered one too.
            ctx.refresh_user()
        return ctx.user_id is not None or ctx.anonymous.identified

    def login(
        self, ctx: RequestContext, distinct_id: str, properties: dict[str, Any] | None
    ) -> None:
        """Alias the anonymous id into ``distinct_id`` (with the guards), then identify."""
        if not ctx.resolved:
            self.resolve(ctx)
        anon_id = ctx.anon_id
        aliasable = (
            anon_id is not None
            and not ctx.anonymous.identified
            and is_uuid(anon_id)
            # An id minted by this very request has no history worth joining.
            and (ctx.anonymous.source != SOURCE_NEW or ctx.anon_used)
            and not self._is_cookieless(ctx)
            and not ctx.opted_out
        )
        own = ctx.set_cookie or ctx.own_cookie
        alias, cookie = plan_login(own, anon_id, aliasable, distinct_id, self._signer)
        if alias and anon_id is not None and not self._privacy.ledger.claim(anon_id, distinct_id):
            logger.warning(
                "posthog-web: not aliasing an anonymous id already aliased into another user "
                "(a copied or crafted cookie?)"
            )
            alias = False
        ctx.user_id = distinct_id
        ctx.user_remembered = False
        ctx.explicit_identity = True
        if alias:
            assert anon_id is not None
            self._send_alias(ctx, distinct_id, anon_id)
        if cookie is not None:
            ctx.set_cookie = cookie
        if self._remember and not ctx.opted_out:
            own = self._writable_cookie(ctx)
            if own.user != distinct_id:
                ctx.set_cookie = replace(own, user=distinct_id)
        if properties is not None:
            self._identify_if_changed(ctx, properties)

    def logout(self, ctx: RequestContext) -> None:
        """Forget the user and rotate the anonymous id (posthog-js ``reset()``)."""
        if not ctx.resolved:
            self.resolve(ctx)
        cookie = plan_logout(ctx.set_cookie or ctx.own_cookie, ctx.anonymous, self._signer)
        ctx.user_id = None
        ctx.user_remembered = False
        ctx.explicit_identity = True
        ctx.own_cookie = ctx.set_cookie = cookie
        ctx.anonymous = AnonymousIdentity(cookie.anon_id, SOURCE_COOKIE)
        ctx.anon_id = cookie.anon_id
        ctx.window_id = None
        ctx.session_checked = True
        ctx.session_id, ctx.set_session = None, None
        if self._cookies:
            session = self._sessions.start(_now_ms())
            ctx.session_id, ctx.set_session = session.session_id, session

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
        props = self._context_properties(ctx)
        props.update(self._scrubbed(properties))
        self._enqueue(event, self.distinct_id(ctx), props, ctx, timestamp=timestamp)

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
            self._send_pageview(ctx, name, properties)
            return
        ctx.page_requested = True
        ctx.page_name = name
        ctx.page_properties = properties

    def screen(self, ctx: RequestContext, name: str, properties: dict[str, Any]) -> None:
        """Send a ``$screen`` event."""
        props = self._context_properties(ctx)
        props.update(self._scrubbed(properties))
        props[PROP_SCREEN_NAME] = name
        self._enqueue(EVENT_SCREEN, self.distinct_id(ctx), props, ctx)

    def identify(
        self, ctx: RequestContext, properties: dict[str, Any], properties_once: dict[str, Any]
    ) -> None:
        """Send ``$identify`` with person properties for this visitor."""
        distinct_id = self.distinct_id(ctx)
        if properties and ctx.user_id is not None and not ctx.opted_out:
            self._remember_identify(ctx, distinct_id, _digest(properties))
        self._send_identify(ctx, distinct_id, properties, properties_once)

    def alias(self, ctx: RequestContext, alias: str) -> None:
        """Send ``$create_alias``: ``alias``'s person joins this visitor's person."""
        self._send_alias(ctx, self.distinct_id(ctx), alias)

    # --- internals ----------------------------------------------------------------------

    def _send_pageview(
        self,
        ctx: RequestContext,
        title: str | None,
        properties: Mapping[str, Any],
        *,
        route: str | None = None,
        view: str | None = None,
        route_name: str | None = None,
    ) -> None:
        request = ctx.request
        props = self._properties.pageview(
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
        self._enqueue(event, self.distinct_id(ctx), props, ctx, uuid=event_id)

    def _send_identify(
        self,
        ctx: RequestContext,
        distinct_id: str,
        properties: dict[str, Any] | None,
        properties_once: dict[str, Any] | None,
    ) -> None:
        props: dict[str, Any] = {}
        self._add_request_identity(ctx, props)
        top: dict[str, Any] = {}
        if properties:
            top[PROP_SET] = properties
        if properties_once:
            top[PROP_SET_ONCE] = properties_once
        self._enqueue(EVENT_IDENTIFY, distinct_id, props, ctx, personless=False, top_level=top)

    def _send_alias(self, ctx: RequestContext, distinct_id: str, alias: str) -> None:
        props: dict[str, Any] = {"distinct_id": distinct_id, "alias": alias}
        self._add_request_identity(ctx, props)
        self._enqueue(EVENT_CREATE_ALIAS, distinct_id, props, ctx, personless=False)

    def _context_properties(self, ctx: RequestContext) -> dict[str, Any]:
        props = self._properties.context(ctx.request)
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
        session_id = self.session_id(ctx)
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
        if not ctx.resolved:  # pragma: no cover - every caller resolved it already
            self.resolve(ctx)
        if ctx.opted_out:
            return
        if self._is_cookieless(ctx) and ctx.user_id is None:
            if event in (EVENT_IDENTIFY, EVENT_CREATE_ALIAS):
                return  # no stable id: nothing a person could be merged into
            personless = True
            if distinct_id == COOKIELESS_SENTINEL:
                properties[PROP_COOKIELESS_MODE] = True
        elif personless is None:
            personless = self._personless_anonymous and not self.is_identified(ctx)
        # Last, as posthog-js does: a caller cannot turn a personless visitor personful.
        properties[PROP_PROCESS_PERSON_PROFILE] = not personless
        message = new_event(event, distinct_id, properties, timestamp=timestamp, uuid=uuid)
        if top_level:
            self._privacy.scrub(top_level)
            message.update(top_level)
        self.client.enqueue(message)

    def _is_cookieless(self, ctx: RequestContext) -> bool:
        # In a cookieless mode an id this package minted lives for one request only.
        return not self._cookies and ctx.anonymous.source == SOURCE_NEW

    def _cookieless_id(self, ctx: RequestContext) -> str:
        if (
            self._privacy.cookieless == "server_hash"
            and ctx.client_ip
            and ctx.request.headers.get("user-agent")
        ):
            return COOKIELESS_SENTINEL
        # PostHog drops cookieless events without $ip or a user agent: a one-off id instead.
        return uuid7()

    def _forget_cookies(self, ctx: RequestContext) -> list[SetCookie]:
        # An opted-out visitor keeps no id of ours: expire the one the browser sent.
        options = self.options
        return [
            SetCookie(
                name=name,
                value="",
                max_age=0,
                secure=ctx.request.is_secure
                if options.cookie_secure is None
                else options.cookie_secure,
                domain=options.cookie_domain,
            )
            for name in (options.anonymous_cookie_name, options.session_cookie_name)
            if name in ctx.request.cookies
        ]

    def _opted_out(self, request: RequestView) -> bool:
        return self._privacy.consent.opted_out(request) or self._opted_out_in_browser(
            request.cookies
        )

    def _opted_out_in_browser(self, cookies: Mapping[str, str]) -> bool:
        # posthog.opt_out_capturing() in the browser: the server honours it too.
        name = self._opt_out_cookie
        return name is not None and is_opt_out(cookies.get(name))

    def _identify_if_changed(self, ctx: RequestContext, properties: dict[str, Any]) -> None:
        """``$identify`` unless this browser (its cookie) or this process sent these already.

        The cookie is what every worker shares; the process memory spares a second
        ``$identify`` when the browser drops or refuses the cookie.
        """
        if not ctx.resolved:
            self.resolve(ctx)
        # An opted-out request sends nothing, so it must not count as sent either.
        if ctx.opted_out:
            return
        distinct_id = ctx.user_id
        assert distinct_id is not None
        digest = _digest(properties)
        own = ctx.set_cookie or ctx.own_cookie
        if (
            self._cookies
            and own is not None
            and own.identify_tag == self._signer.identify_tag(distinct_id, digest)
        ):
            return
        with self._lock:
            sent = self._identified.get(distinct_id) == digest
        self._remember_identify(ctx, distinct_id, digest)
        if not sent:
            self._send_identify(ctx, distinct_id, properties, None)

    def _remember_identify(self, ctx: RequestContext, distinct_id: str, digest: bytes) -> None:
        with self._lock:
            self._identified[distinct_id] = digest
            self._identified.move_to_end(distinct_id)
            while len(self._identified) > _IDENTIFY_CACHE_SIZE:
                self._identified.popitem(last=False)
        if self._cookies:
            tag = self._signer.identify_tag(distinct_id, digest)
            own = self._writable_cookie(ctx)
            if own.identify_tag != tag:
                ctx.set_cookie = replace(own, identify_tag=tag)

    def _writable_cookie(self, ctx: RequestContext) -> AnonymousCookie:
        """The anonymous cookie this response writes or keeps; a new one if it has none."""
        own = ctx.set_cookie or ctx.own_cookie
        if own is None:
            own = ctx.set_cookie = self._signer.new()
            if ctx.anon_id is None:
                ctx.anon_id = own.anon_id
        return own

    def _note_skipped(self, request: RequestView) -> None:
        reason = self._rules.exclusion(request) or "record_pageview"
        with self._lock:
            self._skipped[reason] = self._skipped.get(reason, 0) + 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "posthog-web: no page view for %s %s: %s", request.method, request.path, reason
            )

    def _warn_illegal(self, distinct_id: object, exc: Exception) -> None:
        key = repr(distinct_id)[:100]
        with self._lock:
            if key in self._warned_ids:
                return
            self._warned_ids[key] = None
            while len(self._warned_ids) > _WARNED_IDS_SIZE:
                self._warned_ids.popitem(last=False)
        logger.warning("posthog-web: not sending user id %s as a distinct id: %s", key, exc)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _project_api_key(client: Client) -> str | None:
    key = getattr(client, "api_key", None)
    return key if isinstance(key, str) else None


def _uuid_header(value: str, check: Callable[[str], bool]) -> str | None:
    cleaned = sanitize_header(value)
    return cleaned.lower() if cleaned is not None and check(cleaned) else None


def _digest(properties: Mapping[str, Any]) -> bytes:
    try:
        encoded = encode_json(dict(sorted(properties.items())))
    except (TypeError, ValueError):
        encoded = repr(sorted(properties.items(), key=lambda kv: kv[0])).encode()
    return hashlib.blake2b(encoded, digest_size=16).digest()
