"""``PostHogMiddleware``: page views, identity and ``request.posthog`` for Django.

Sync- and async-capable (no thread hop under ASGI). It only adapts Django's request
and response to the core's :class:`~posthog_web.web.request.RequestView` and
:class:`~posthog_web.web.request.ResponseView`; every decision is the tracker's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import apps
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from posthog_web.django.conf import PostHogConfig, get_config
from posthog_web.django.request import request_view
from posthog_web.django.routes import route_view_name
from posthog_web.django.users import user_async, user_sync
from posthog_web.web import ResponseView, SetCookie
from posthog_web.web.caching import private_cache_headers
from posthog_web.web.context import RequestContext
from posthog_web.web.errors import SOURCE_DJANGO
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, RequestHelper, bind, unbind
from posthog_web.web.tracker import Tracker

__all__ = ["PostHogMiddleware"]

logger = logging.getLogger(__name__)

_UNTRACKED = NoopHelper("this request is not tracked (see the earlier posthog-web log lines)")


class _State:
    __slots__ = ("config", "ctx", "request", "tracker", "user_read")

    def __init__(
        self, config: PostHogConfig, tracker: Tracker, ctx: RequestContext, request: HttpRequest
    ) -> None:
        self.config = config
        self.tracker = tracker
        self.ctx = ctx
        self.request = request
        self.user_read = False

    def read_user(self) -> None:
        # Sync only: the tracker asks for the user when an event needs the distinct id,
        # so a request that records nothing never evaluates request.user.
        if self.user_read or self.ctx.explicit_identity:
            return
        self.user_read = True
        with guarded("reading the user"):
            PostHogMiddleware._set_user(self, user_sync(self.request))

    def route(self) -> tuple[str | None, str | None, str | None]:
        return route_view_name(self.request)


class PostHogMiddleware:
    """Records page views and identity, and gives every request ``request.posthog``.

    Place it after ``AuthenticationMiddleware``. Configure it with the ``POSTHOG_WEB``
    setting (see docs/django.md).
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        if not apps.is_installed("posthog_web.django"):
            from posthog_web.django import receivers

            logger.warning(
                "posthog_web.W003: add 'posthog_web.django' to INSTALLED_APPS, so that "
                "`manage.py check` can check the configuration"
            )
            receivers.connect()

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        state = self._start(request)
        if state is None:
            return self.get_response(request)
        state.ctx.refresh_user = state.read_user
        token = bind(state.ctx.helper)
        try:
            try:
                response = self.get_response(request)
                assert isinstance(response, HttpResponseBase)
            finally:
                unbind(token)
            self._finish(state, request, response)
        finally:
            state.ctx.release()
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        state = self._start(request)
        get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = self.get_response  # type: ignore[assignment]
        if state is None:
            return await get_response(request)
        token = bind(state.ctx.helper)
        try:
            try:
                with guarded("reading the user"):
                    self._set_user(state, await user_async(request))
                response = await get_response(request)
            finally:
                unbind(token)
            self._finish(state, request, response)
        finally:
            state.ctx.release()
        return response

    @staticmethod
    def _start(request: HttpRequest) -> _State | None:
        # Set first: a view using request.posthog must work whatever happens below.
        request.posthog = _UNTRACKED  # type: ignore[attr-defined]
        with guarded("request start"):
            config = get_config()
            tracker = config.request_tracker()
            if tracker is None:
                request.posthog = NoopHelper(config.disabled_reason or "PostHog is disabled")  # type: ignore[attr-defined]
                return None
            try:
                view = request_view(request)
            except DisallowedHost:
                return None  # a Host outside ALLOWED_HOSTS: not tracked
            ctx = tracker.start(view)
            if config.groups is not None:
                ctx.groups_source = functools.partial(config.groups, request)
            request.posthog = ctx.helper  # type: ignore[attr-defined]
            state = _State(config, tracker, ctx, request)
            ctx.route_reader = state.route
            return state
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        """Autocapture: the view's exception is sent once Django's response is known.

        Returns None, so Django answers as it would without posthog-web (its 500 page or
        handler, another middleware's ``process_exception``).
        """
        helper = getattr(request, "posthog", None)
        if isinstance(helper, RequestHelper):
            helper._autocapture(exception, SOURCE_DJANGO)

    @staticmethod
    def _set_user(state: _State, user: Any) -> None:
        ctx, config = state.ctx, state.config
        if user is None:
            state.tracker.set_user(ctx, None)
            return
        distinct_id = config.distinct_id(user)
        props = config.person_properties(user) if config.person_properties else None
        state.tracker.set_user(ctx, distinct_id, props)

    @staticmethod
    def _finish(state: _State, request: HttpRequest, response: HttpResponseBase) -> None:
        with guarded("page view"):
            tracker, ctx = state.tracker, state.ctx
            verdict = None
            if state.config.record_pageview is not None:
                verdict = state.config.record_pageview(request, response)
            route, view, route_name = route_view_name(request)
            streaming = response.streaming
            tracker.finish(
                ctx,
                ResponseView(
                    status=response.status_code,
                    content_type=response.get("Content-Type"),
                    streaming=streaming,
                    # HttpResponse.content joins its chunks: one chunk is not copied.
                    body=response.content
                    if not streaming and isinstance(response, HttpResponse)
                    else None,
                    # GZipMiddleware below this one has compressed it already.
                    content_encoding=response.get("Content-Encoding"),
                ),
                route=route,
                view=view,
                route_name=route_name,
                pageview=verdict,
            )
            cookies = tracker.response_cookies(ctx)
            for cookie in cookies:
                if cookie.name not in response.cookies:  # else the view set it itself
                    _set_cookie(response, cookie)
            if tracker.per_visitor(ctx, cookies):
                cache_control, vary = private_cache_headers(
                    response.get("Cache-Control"), response.get("Vary")
                )
                response["Cache-Control"] = cache_control
                response["Vary"] = vary


def _set_cookie(response: HttpResponseBase, cookie: SetCookie) -> None:
    if cookie.max_age <= 0:
        response.set_cookie(
            cookie.name,
            cookie.value,
            max_age=0,
            path=cookie.path,
            domain=cookie.domain,
            secure=cookie.secure,
            httponly=cookie.httponly,
            samesite=cookie.samesite,  # type: ignore[arg-type]
        )
        return
    # The morsel directly: set_cookie() would add an Expires date next to Max-Age,
    # formatting a date per cookie (a third of its cost); browsers use Max-Age, and the
    # ASGI middleware sends the same attributes.
    response.cookies[cookie.name] = cookie.value
    morsel = response.cookies[cookie.name]
    morsel["max-age"] = cookie.max_age
    morsel["path"] = cookie.path
    if cookie.domain:
        morsel["domain"] = cookie.domain
    if cookie.secure:
        morsel["secure"] = True
    if cookie.httponly:
        morsel["httponly"] = True
    if cookie.samesite:
        morsel["samesite"] = cookie.samesite
