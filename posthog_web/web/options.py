"""The options of the request tracker: :class:`TrackerOptions`, checked when built."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from posthog_web.web.error_options import check_exception_options
from posthog_web.web.posthog_js import DEFAULT_POSTHOG_JS_SRC, check_posthog_js_options
from posthog_web.web.privacy import (
    CookielessMode,
    IPMode,
    check_cookie_name,
    check_privacy_options,
)
from posthog_web.web.request import RequestView, ResponseView

__all__ = ["ONE_YEAR", "TrackerOptions"]

ONE_YEAR = 365 * 24 * 3600


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
        posthog_js_src: where :func:`~posthog_web.web.snippet.posthog_snippet` loads
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
        capture_exceptions: send an ``$exception`` for each exception escaping a view
            (docs/errors.md); the request helper's ``capture_exception`` works either way.
        ignore_exceptions: exception types or dotted paths never autocaptured
            (subclasses too); None: the defaults of docs/errors.md (404s, permission
            errors, bad requests, validation errors).
        in_app: module prefixes counted as the app's code; None: the client's
            ``exception_options`` (by default every module outside site-packages, the
            standard library and posthog-web).
        capture_code_variables: send in-app frames' local variables (masked, capped);
            None: the client's ``exception_options`` decide (off by default).
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
    capture_exceptions: bool = True
    ignore_exceptions: Sequence[type[BaseException] | str] | None = None
    in_app: Sequence[str] | None = None
    capture_code_variables: bool | None = None

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
        check_exception_options(self)
