"""Who a request's visitor is: :class:`Visitors` resolves the id, the session and consent.

The sources, in order: posthog-js's tracing headers, its ``ph_<key>_posthog`` cookie, the
package's signed anonymous cookie, else an id minted on first use (none at all in a
cookieless mode); then the server's own session cookie and the privacy signals.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from posthog_web.events import COOKIELESS_SENTINEL, is_uuid, is_uuid7, uuid7
from posthog_web.web.context import RequestContext
from posthog_web.web.identity import (
    HEADER_DISTINCT_ID,
    HEADER_SESSION_ID,
    HEADER_WINDOW_ID,
    SOURCE_NEW,
    AnonymousCookie,
    AnonymousIdentity,
    CookieSigner,
    is_opt_out,
    opt_out_cookie_name,
    parse_posthog_cookie,
    posthog_cookie_name,
    resolve_anonymous,
    sanitize_header,
    usable_distinct_id,
)
from posthog_web.web.options import TrackerOptions
from posthog_web.web.privacy import PrivacyPolicy
from posthog_web.web.request import RequestView
from posthog_web.web.sessions import SessionCookie

__all__ = ["UNRESOLVED", "Visitors", "now_ms"]

# The identity of a context not resolved yet; never read before Visitors.resolve ran.
UNRESOLVED = AnonymousIdentity(None, SOURCE_NEW)


class Visitors:
    """Resolves each request's visitor; one per tracker.

    Args:
        options: the tracker's options.
        api_key: the project API key (names posthog-js's cookies), or None.
        signer: signs and reads the anonymous cookie.
        privacy: the compiled privacy options (IP, consent, cookieless mode).
    """

    def __init__(
        self,
        options: TrackerOptions,
        api_key: str | None,
        signer: CookieSigner,
        privacy: PrivacyPolicy,
    ) -> None:
        self.options = options
        self.signer = signer
        self.privacy = privacy
        self.cookies = options.cookieless_mode == "off"
        # Without a secret anyone could write a user id into the cookie.
        self.remember = options.remember_login and self.cookies and bool(options.cookie_secret)
        self.posthog_js_cookie = (
            posthog_cookie_name(api_key) if options.read_posthog_js_cookie and api_key else None
        )
        self.idle_ms = min(max(options.session_idle_timeout_seconds, 60), 36_000) * 1000
        #: Reads and starts the server's own session cookie.
        self.sessions = SessionCookie(signer, idle_timeout=self.idle_ms // 1000)
        self._opt_out_cookie = opt_out_cookie_name(api_key) if api_key else None

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
        own = (
            self.signer.loads(cookies.get(options.anonymous_cookie_name)) if self.cookies else None
        )
        posthog_js = None
        if self.posthog_js_cookie is not None:
            raw = cookies.get(self.posthog_js_cookie)
            if raw:
                posthog_js = parse_posthog_cookie(
                    raw, now_ms=time.time_ns() // 1_000_000, idle_timeout_ms=self.idle_ms
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
                ctx.reset_posthog_js = self.signer.anon_tag(posthog_js.distinct_id) in own.retired
        if session_id is None and posthog_js is not None and not ctx.reset_posthog_js:
            # A retired posthog-js id's session is the previous visitor's, retired too.
            session_id = posthog_js.session_id
        anonymous = resolve_anonymous(header_id, posthog_js, own, self.signer)
        ctx.anonymous = anonymous
        ctx.own_cookie = own
        if (
            self.remember
            and own is not None
            and own.user
            and not ctx.user_set
            and not ctx.explicit_identity
        ):
            ctx.user_id, ctx.user_remembered = own.user, True
        ctx.session_id = session_id
        ctx.window_id = window_id
        ctx.anon_id = anonymous.anon_id
        ctx.client_ip = self.privacy.ip.resolve(request)
        ctx.opted_out = self.opted_out(request)

    def session_id(self, ctx: RequestContext) -> str | None:
        """This request's ``$session_id``: the browser's live one, else the server's own.

        The server's session is read (or started) on first use; its cookie goes out with
        the response only when it is new or its last activity needs refreshing.
        """
        if not ctx.resolved:
            self.resolve(ctx)
        if ctx.session_id is None and not ctx.session_checked:
            ctx.session_checked = True
            if self.cookies:
                raw = ctx.request.cookies.get(self.options.session_cookie_name)
                ctx.session_id, ctx.set_session = self.sessions.resume(raw, now_ms())
        return ctx.session_id

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
            if self.cookies:
                cookie = self.signer.new()
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

    def is_cookieless(self, ctx: RequestContext) -> bool:
        """In a cookieless mode, an id this package minted lives for one request only."""
        return not self.cookies and ctx.anonymous.source == SOURCE_NEW

    def opted_out(self, request: RequestView) -> bool:
        """A privacy signal the configuration honours, or posthog-js's opt-out cookie."""
        return self.privacy.consent.opted_out(request) or self._opted_out_in_browser(
            request.cookies
        )

    def writable_cookie(self, ctx: RequestContext) -> AnonymousCookie:
        """The anonymous cookie this response writes or keeps; a new one if it has none."""
        own = ctx.set_cookie or ctx.own_cookie
        if own is None:
            own = ctx.set_cookie = self.signer.new()
            if ctx.anon_id is None:
                ctx.anon_id = own.anon_id
        return own

    def _cookieless_id(self, ctx: RequestContext) -> str:
        if (
            self.privacy.cookieless == "server_hash"
            and ctx.client_ip
            and ctx.request.headers.get("user-agent")
        ):
            return COOKIELESS_SENTINEL
        # PostHog drops cookieless events without $ip or a user agent: a one-off id instead.
        return uuid7()

    def _opted_out_in_browser(self, cookies: Mapping[str, str]) -> bool:
        # posthog.opt_out_capturing() in the browser: the server honours it too.
        name = self._opt_out_cookie
        return name is not None and is_opt_out(cookies.get(name))


def now_ms() -> int:
    """The wall clock in milliseconds (session cookies keep their last activity in it)."""
    return time.time_ns() // 1_000_000


def _uuid_header(value: str, check: Callable[[str], bool]) -> str | None:
    cleaned = sanitize_header(value)
    return cleaned.lower() if cleaned is not None and check(cleaned) else None
