"""The response rules of an adapter that sees a response's headers before its body.

ASGI and WSGI send the status and headers first and the body after, so the page view
decision is taken twice: at the start (the cookies and cache headers can only go out
then) and at the end, once the body shows whether it was streamed. Both steps are here,
once; the adapters only read their protocol's messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from posthog_web.web.context import RequestContext
from posthog_web.web.request import ResponseView, SetCookie
from posthog_web.web.tracker import Tracker

__all__ = ["RouteInfo", "StartedResponse", "end_response", "start_response"]

#: The matched route template, view name and route name (each None when unknown).
RouteInfo = tuple["str | None", "str | None", "str | None"]


@dataclass(slots=True)
class StartedResponse:
    """What :func:`start_response` decided: the first verdict, the cookies, privacy."""

    verdict: bool | None
    cookies: list[SetCookie] = field(default_factory=list)
    private: bool = False


def start_response(
    tracker: Tracker,
    ctx: RequestContext,
    response: ResponseView,
    *,
    ruled_out: bool,
    excluded: bool,
) -> StartedResponse:
    """Decide at the response start: the verdict so far, and the cookies to send now.

    ``ruled_out`` and ``excluded`` are :meth:`Tracker.rules_out` and
    :meth:`Tracker.request_excluded` of the request, computed when it started.
    """
    if ctx.page_requested:
        verdict = None
    elif ruled_out:
        verdict = False
    else:
        verdict = tracker.is_pageview(ctx.request, response, excluded=excluded)
    if ctx.page_requested or verdict:
        # Mint the anonymous id and the session now: their cookies can only go out
        # with these headers.
        tracker.distinct_id(ctx)
        tracker.session_id(ctx)
    cookies = tracker.response_cookies(ctx)
    return StartedResponse(verdict, cookies, tracker.per_visitor(ctx, cookies))


def end_response(
    tracker: Tracker,
    ctx: RequestContext,
    response: ResponseView,
    started: StartedResponse,
    *,
    ruled_out: bool,
    route_info: Callable[[], RouteInfo] | None = None,
) -> None:
    """Record the page view once the body went out (``response.streaming`` now known)."""
    # The rules already ran at the start; only streaming can change them.
    verdict = None if response.streaming and not ruled_out else started.verdict
    if verdict is False and not ctx.page_requested:
        tracker.finish(ctx, response, pageview=False)
        return
    route, view, route_name = route_info() if route_info is not None else (None, None, None)
    tracker.finish(ctx, response, route=route, view=view, route_name=route_name, pageview=verdict)
