"""The per-request state the tracker keeps: :class:`RequestContext`.

Integrations treat it as opaque: the tracker fills it, the request helper
(:mod:`posthog_web.web.helper`) is its public face.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from posthog_web.web.helper import RequestHelper
from posthog_web.web.identity import AnonymousCookie, AnonymousIdentity
from posthog_web.web.request import RequestView
from posthog_web.web.request_flags import RequestFlags
from posthog_web.web.sessions import ServerSession

__all__ = ["RequestContext"]


@dataclass(slots=True, eq=False)
class RequestContext:
    """What the tracker knows about one request. Integrations treat it as opaque."""

    request: RequestView
    anonymous: AnonymousIdentity
    own_cookie: AnonymousCookie | None
    session_id: str | None = None
    window_id: str | None = None
    user_id: str | None = None
    # The anonymous id this request uses; minted on first use when the request had none.
    anon_id: str | None = None
    anon_used: bool = False
    # The anonymous cookie to write on the response, when it changed.
    set_cookie: AnonymousCookie | None = None
    # user_id is the user a login() remembered in the anonymous cookie (remember_login):
    # no framework user or login() in this request set it.
    user_remembered: bool = False
    # The framework said who the user is (set_user), anonymous included: it decides.
    user_set: bool = False
    # posthog-js's cookie holds an id a logout retired on this browser (or that it
    # identified as someone else): the snippet clears posthog-js before init.
    reset_posthog_js: bool = False
    # posthog-js's cookie: its id and whether posthog-js identified it.
    browser_id: str | None = None
    browser_identified: bool = False
    # login() or logout() ran in this request: it wins over the framework's user.
    explicit_identity: bool = False
    page_requested: bool = False
    page_name: str | None = None
    page_properties: dict[str, Any] | None = None
    # pageview_properties(): the automatic page view's name and properties, if it is one.
    pageview_name: str | None = None
    pageview_properties: dict[str, Any] | None = None
    finished: bool = False
    # The visitor's address as sent in $ip (None: unknown or ip_mode "off").
    client_ip: str | None = None
    # A privacy signal the configuration honours: no events, no cookies.
    opted_out: bool = False
    # The server's own session (sessions.py) was looked at; the one to write, if any.
    session_checked: bool = False
    set_session: ServerSession | None = None
    # Re-reads the framework's user when it can appear mid-request (an inner ASGI
    # auth middleware), so a client-sent id never stands in for a logged-in user.
    refresh_user: Callable[[], None] | None = None
    # Tracker.resolve ran: the identity fields above hold the visitor, not placeholders.
    resolved: bool = False
    # A bot or an excluded path (Tracker.untracked; None: not decided yet), and whether
    # a per-visitor posthog-js bootstrap was rendered (the response must stay private).
    untracked: bool | None = None
    bootstrapped: bool = False
    # The user's person properties as the integration gave them (flags evaluate on them),
    # and the request's feature flags (web/flags.py), made on the first flag read.
    person_properties: Mapping[str, Any] | None = None
    flags: RequestFlags | None = None
    # Error tracking (web/errors.py): the adapter's reader of the matched route, the
    # status the framework answered, and a view's exception waiting for that status.
    route_reader: Callable[[], tuple[str | None, str | None, str | None]] | None = None
    response_status: int | None = None
    pending_exception: BaseException | None = None
    pending_source: str | None = None
    # The request's groups (web/groups.py): group() calls, then the configured callable's
    # result under them once resolved; the callable an adapter handed in, until then.
    groups: dict[str, str] | None = None
    # The properties group() was given, per group type (flags evaluate on them).
    group_properties: dict[str, dict[str, Any]] | None = None
    groups_resolved: bool = False
    groups_source: Callable[[], object] | None = None
    helper: RequestHelper = field(init=False)

    def release(self) -> None:
        """Break this context's reference cycles once its request is over.

        The context and its helper point at each other, and ``refresh_user`` at the
        integration's per-request state: left alone, every request would be garbage
        that only the cycle collector frees, which then runs every few dozen requests
        (and, now and then, over the whole heap). The helper keeps working afterwards.
        """
        self.refresh_user = None
        self.route_reader = None
        self.pending_exception = None
        self.groups_source = None
        with contextlib.suppress(AttributeError):  # released already
            del self.helper
