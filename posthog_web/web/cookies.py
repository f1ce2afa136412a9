"""The cookies a response sets: :class:`ResponseCookies` (the anonymous id, the session)."""

from __future__ import annotations

from collections.abc import Callable

from posthog_web.web.context import RequestContext
from posthog_web.web.request import SetCookie
from posthog_web.web.visitor import Visitors

__all__ = ["ResponseCookies"]


class ResponseCookies:
    """Which cookies a response writes, or expires for an opted-out visitor.

    Args:
        visitors: the resolved visitor, the options, the signer and the sessions.
        untracked: whether a request is a bot's or an excluded path's (no cookie then).
    """

    def __init__(self, visitors: Visitors, untracked: Callable[[RequestContext], bool]) -> None:
        self._visitors = visitors
        self._untracked = untracked

    def for_response(self, ctx: RequestContext) -> list[SetCookie]:
        """The cookies to set on this response: a new or rotated anonymous id, a new link."""
        visitors = self._visitors
        if not ctx.resolved:
            # Nothing was minted or rotated: only an opt-out has cookies to expire.
            if visitors.opted_out(ctx.request):
                return self._forget(ctx)
            return []
        if ctx.opted_out:
            return self._forget(ctx)
        # The view's own login(), logout() or page() is tracking it asked for.
        if not (ctx.explicit_identity or ctx.page_requested) and self._untracked(ctx):
            return []
        cookie, session = ctx.set_cookie, ctx.set_session
        if (cookie is None and session is None) or not visitors.cookies:
            return []
        options = visitors.options
        secure = ctx.request.is_secure if options.cookie_secure is None else options.cookie_secure
        cookies = []
        if cookie is not None:
            cookies.append(
                SetCookie(
                    name=options.anonymous_cookie_name,
                    value=visitors.signer.dumps(cookie),
                    max_age=options.cookie_max_age,
                    secure=secure,
                    domain=options.cookie_domain,
                )
            )
        if session is not None:
            cookies.append(
                SetCookie(
                    name=options.session_cookie_name,
                    value=visitors.sessions.dumps(session),
                    max_age=visitors.sessions.max_age,
                    secure=secure,
                    domain=options.cookie_domain,
                )
            )
        return cookies

    def _forget(self, ctx: RequestContext) -> list[SetCookie]:
        # An opted-out visitor keeps no id of ours: expire the one the browser sent.
        options = self._visitors.options
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
