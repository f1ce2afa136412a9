"""``PostHogMiddleware``: page views, identity and ``request.posthog`` for Django.

Sync- and async-capable (no thread hop under ASGI). It only adapts Django's request
and response to the core's :class:`~posthog_web.web.request.RequestView` and
:class:`~posthog_web.web.request.ResponseView`; every decision is the tracker's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.apps import apps
from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from posthog_web.django.conf import PostHogConfig, get_config
from posthog_web.web import RequestView, ResponseView, SetCookie
from posthog_web.web.caching import private_cache_headers
from posthog_web.web.context import RequestContext
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, bind, unbind
from posthog_web.web.tracker import Tracker

__all__ = ["PostHogMiddleware"]

logger = logging.getLogger(__name__)

_UNTRACKED = NoopHelper("this request is not tracked (see the earlier posthog-web log lines)")


_META_KEYS: dict[str, str] = {}


def _meta_key(name: str) -> str:
    """The ``request.META`` key of a header name (``user-agent`` -> ``HTTP_USER_AGENT``)."""
    key = _META_KEYS.get(name)
    if key is None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if len(_META_KEYS) < 512:  # bounded: user code may look up any name
            _META_KEYS[name] = key
    return key


class _MetaHeaders(Mapping[str, str]):
    """Lower-case header names over ``request.META``, looked up lazily (no copy per request)."""

    __slots__ = ("_meta",)

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self._meta = meta

    def __getitem__(self, name: str) -> str:
        value = self._meta[_meta_key(name)]
        if not isinstance(value, str):
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        # Most lookups are for headers a request does not have: no KeyError round trip.
        value = self._meta.get(_meta_key(name))
        return value if isinstance(value, str) else default

    def __iter__(self) -> Iterator[str]:
        for key in self._meta:
            if key.startswith("HTTP_"):
                yield key[5:].lower().replace("_", "-")
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Validated hosts by the request values get_host() reads: validating against
# ALLOWED_HOSTS costs more than the rest of the request view.
_hosts: dict[tuple[object, ...], str | DisallowedHost] = {}
_HOSTS_SIZE = 1024
_MAX_CACHED_HOST = 255
_HOST_SETTINGS = frozenset(
    {
        "ALLOWED_HOSTS",
        "DEBUG",
        "USE_X_FORWARDED_HOST",
        "USE_X_FORWARDED_PORT",
        "SECURE_PROXY_SSL_HEADER",
    }
)


def _validated_host(request: HttpRequest, scheme: str) -> str:
    """``request.get_host()``, remembered for the same Host headers and settings."""
    if type(request).get_host is not HttpRequest.get_host:
        return request.get_host()  # a subclass with its own rules
    meta = request.META
    http_host = meta.get("HTTP_HOST")
    key = (
        http_host,
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        meta.get("HTTP_X_FORWARDED_PORT"),
        scheme,
    )
    host = _hosts.get(key)
    if host is None:
        try:
            host = request.get_host()
        except DisallowedHost as exc:
            host = exc
        if len(str(http_host)) <= _MAX_CACHED_HOST:
            if len(_hosts) >= _HOSTS_SIZE:
                _hosts.clear()
            _hosts[key] = host
    if isinstance(host, DisallowedHost):
        raise DisallowedHost(*host.args)
    return host


@receiver(setting_changed)
def _forget_hosts(*, setting: str, **kwargs: Any) -> None:
    if setting in _HOST_SETTINGS:
        _hosts.clear()


def request_view(request: HttpRequest) -> RequestView:
    """The core's view of a Django request."""
    meta = request.META
    scheme = request.scheme or "http"
    return RequestView(
        method=(request.method or "GET").upper(),
        scheme=scheme,
        host=_validated_host(request, scheme).lower(),
        path=request.path,
        query_string=meta.get("QUERY_STRING", ""),
        headers=_MetaHeaders(meta),
        cookies=request.COOKIES,
        client_ip=meta.get("REMOTE_ADDR") or None,
    )


@contextmanager
def _session_untouched(request: HttpRequest) -> Iterator[None]:
    """Undo the ``accessed``/``modified`` marks that reading the user leaves on the session.

    Otherwise every anonymous response would get ``Vary: Cookie`` (and a session row
    when modified), although the view never used the session.
    """
    session = getattr(request, "session", None)
    if session is None:
        yield
        return
    accessed, modified, key = session.accessed, session.modified, session.session_key
    yield
    # A flushed session (a failed auth-hash check) is a real change: keep its marks.
    if session.session_key == key:
        session.accessed, session.modified = accessed, modified


def _forget_anonymous(request: HttpRequest, user: Any) -> None:
    # The view reads request.user again and so marks the session itself, as it would
    # without us: responses that depend on the user keep their Vary: Cookie.
    if isinstance(user, SimpleLazyObject):
        user._wrapped = empty
    request.__dict__.pop("_cached_user", None)
    request.__dict__.pop("_acached_user", None)


# The module of the lazy user that django.contrib.auth's AuthenticationMiddleware sets.
_AUTH_MIDDLEWARE_MODULE = "django.contrib.auth.middleware"


def _sessionless_auth_user(request: HttpRequest, user: SimpleLazyObject[Any]) -> bool:
    """True for Django's own lazy user on a request that brought no session cookie.

    That user comes from the session alone, so it is anonymous: not evaluating it saves
    the authentication lookup on every first visit. A lazy user of any other origin
    (a token or header middleware) is evaluated as usual.
    """
    setup = user.__dict__.get("_setupfunc")
    if getattr(setup, "__module__", None) != _AUTH_MIDDLEWARE_MODULE:
        return False
    session = request.__dict__.get("session")
    return session is not None and getattr(session, "session_key", "") is None


def _user_sync(request: HttpRequest) -> Any:
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        if _sessionless_auth_user(request, user):
            return None
        with _session_untouched(request):
            authenticated = user.is_authenticated
        if not authenticated:
            _forget_anonymous(request, user)
            return None
    return user if user.is_authenticated else None


async def _user_async(request: HttpRequest) -> Any:
    auser = request.__dict__.get("auser")
    user = request.__dict__.get("user")
    if auser is None:
        # Never evaluate a lazy user here: that would run the ORM in the event loop.
        if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
            return None
        return user if user.is_authenticated else None
    cached = "_acached_user" in request.__dict__
    with _session_untouched(request):
        resolved = await auser()
    if not resolved.is_authenticated:
        if not cached:
            request.__dict__.pop("_acached_user", None)
        return None
    return resolved


def _route_view_name(request: HttpRequest) -> tuple[str | None, str | None, str | None]:
    """The route template, the view's dotted name and the route's namespaced name."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None, None, None
    route = match.route
    # A route starting with "^" is a re_path() regular expression: sent as Django joined
    # it, without a "/" that would make it match nothing.
    if route is not None and not route.startswith(("/", "^")):
        route = "/" + route
    func = getattr(match.func, "view_class", match.func)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    view = f"{module}.{qualname}" if module and qualname else None
    return route or None, view, match.view_name if match.url_name else None


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
            PostHogMiddleware._set_user(self, _user_sync(self.request))


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
                    self._set_user(state, await _user_async(request))
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
            request.posthog = ctx.helper  # type: ignore[attr-defined]
            return _State(config, tracker, ctx, request)
        return None

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
            route, view, route_name = _route_view_name(request)
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
