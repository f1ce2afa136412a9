"""Pure WSGI (PEP 3333) middleware: page views, identity and ``environ["posthog_web"]``.

Wraps any WSGI application (Flask, Pyramid, Falcon, Bottle, a bare callable); it imports
no framework. It turns the environ into a :class:`~posthog_web.web.RequestView`, wraps
``start_response`` to read the status and headers and to add the cookies and cache
headers the tracker asks for, and leaves every decision to the tracker. An exception
escaping the app (the call, the body's iteration or ``close()``) is handed to the
tracker's error tracking and re-raised unchanged (docs/errors.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeAlias

from posthog_web.client import Client
from posthog_web.delivery import recorder as recording
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.context import RequestContext
from posthog_web.web.cookie_header import LazyCookies
from posthog_web.web.environ_headers import EnvironHeaders
from posthog_web.web.errors import SOURCE_WSGI
from posthog_web.web.fallback import recording_only_client
from posthog_web.web.guard import guarded
from posthog_web.web.headers import private_header_list, set_cookie_value
from posthog_web.web.helper import NoopHelper, RequestHelper, bind, unbind
from posthog_web.web.option_args import TrackerOptionArgs, Unpack
from posthog_web.web.responses import StartedResponse, end_response, start_response
from posthog_web.web.setup import middleware_client, tracker_options
from posthog_web.web.tracker import Tracker

__all__ = ["BODY_KEY", "HELPER_KEY", "ROUTE_KEY", "UNKNOWN", "PostHogMiddleware", "request_view"]

logger = logging.getLogger(__name__)

Environ: TypeAlias = dict[str, Any]
StartResponse: TypeAlias = Callable[..., Callable[[bytes], object]]
WSGIApp: TypeAlias = Callable[[Environ, StartResponse], Iterable[bytes]]

HELPER_KEY = "posthog_web"
"""``environ["posthog_web"]``: the request's helper (a no-op one when not tracked)."""
BODY_KEY = "posthog_web.body"
"""Set by a framework adapter that holds the whole body (Flask): its bytes, or None if streamed."""
ROUTE_KEY = "posthog_web.route"
"""Set by a framework adapter that knows the matched route: ``(route, view, route name)``."""
UNKNOWN: Any = object()
"""What a user reader returns when it cannot tell yet (e.g. outside the framework's request)."""

_SKIPPED = NoopHelper("this request is not tracked (HEAD, or PostHog is disabled)")
_GUARD_START = guarded("request start")
_GUARD_RESPONSE = guarded("response start")
_GUARD_PAGEVIEW = guarded("page view")
_GUARD_EXCEPTION = guarded("exception capture")


def _remote_user(environ: Environ) -> Any:
    return environ.get("REMOTE_USER") or UNKNOWN


class PostHogMiddleware:
    """Record page views and identity for a WSGI application.

    ``app.wsgi_app = PostHogMiddleware(app.wsgi_app, api_key="phc_...")``, or around any
    WSGI callable. The helper is ``environ["posthog_web"]`` and
    :func:`posthog_web.current` while the app runs and while its body is iterated.

    Args:
        app: the WSGI application to wrap.
        api_key: the project API key; a :class:`~posthog_web.Client` is built from it.
        host: the ingestion host used with ``api_key`` (by default PostHog's US cloud).
            Without ``api_key``, only a loopback host (a local inbox) is used.
        local_inbox: without ``api_key`` and ``host``, send to ``posthog-web inbox``.
        client: an existing client to use instead of ``api_key``/``host``.
        secret_key: key signing the anonymous-id cookie (``TrackerOptions.cookie_secret``).
        distinct_id: ``callable(environ) -> str | None``, the logged-in user's distinct id
            (None: anonymous); by default ``environ["REMOTE_USER"]`` when it is set.
        person_properties: ``callable(environ) -> Mapping | None``, that user's person
            properties; by default none.
        **options: any :class:`~posthog_web.web.options.TrackerOptions` field, by name
            (``capture_exceptions``, ``ignore_exceptions``, ``in_app``,
            ``capture_code_variables`` for error tracking).

    Without ``api_key`` and ``client`` (and no local inbox) it only passes requests
    through (one warning); under the ``posthog_events`` fixture it records as if configured.
    The client's exit flush (atexit) sends what is queued when the server stops.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        api_key: str | None = None,
        host: str | None = None,
        local_inbox: bool = False,
        client: Client | None = None,
        secret_key: str | None = None,
        distinct_id: Callable[[Environ], str | None] | None = None,
        person_properties: Callable[[Environ], Mapping[str, Any] | None] | None = None,
        **options: Unpack[TrackerOptionArgs],
    ) -> None:
        self._options = tracker_options(
            "PostHogMiddleware",
            options,
            api_key=api_key,
            client=client,
            secret_key=secret_key,
            local_inbox=local_inbox,
            callables={"distinct_id": distinct_id, "person_properties": person_properties},
        )
        self.app = app
        self.user_id: Callable[[Environ], Any] = distinct_id or _remote_user
        self.user_properties = person_properties
        self.tracker: Tracker | None = None
        self._recording_tracker: Tracker | None = None
        if client is None:
            client = middleware_client("PostHogMiddleware", api_key, host, local_inbox)
        if client is not None:
            self.tracker = Tracker(client, self._options)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        tracker = self.tracker
        if tracker is None and recording.active is not None:
            tracker = self._recording_only()
        if tracker is None or environ.get("REQUEST_METHOD") == "HEAD":
            return self._skipped(environ, start_response)
        return _Exchange(self, tracker, environ).run(start_response)

    def _skipped(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        # The app may still use environ["posthog_web"] or current(): they do nothing.
        environ[HELPER_KEY] = _SKIPPED
        token = bind(_SKIPPED)
        try:
            return self.app(environ, start_response)
        finally:
            unbind(token)

    def _recording_only(self) -> Tracker:
        tracker = self._recording_tracker
        if tracker is None:
            tracker = self._recording_tracker = Tracker(recording_only_client(), self._options)
        return tracker


def request_view(environ: Environ) -> RequestView:
    """The framework-neutral view of a WSGI environ."""
    headers = EnvironHeaders(environ)
    host = environ.get("HTTP_HOST") or _server_host(environ)
    # PEP 3333 gives the path as latin-1 decoded bytes; browsers send UTF-8.
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:
        path = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        pass
    return RequestView(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        scheme=str(environ.get("wsgi.url_scheme", "http")),
        host=str(host).lower(),
        path=path or "/",
        query_string=environ.get("QUERY_STRING", ""),
        headers=headers,
        cookies=LazyCookies(environ.get("HTTP_COOKIE", "")),
        client_ip=environ.get("REMOTE_ADDR") or None,
    )


def _server_host(environ: Environ) -> str:
    name, port = environ.get("SERVER_NAME", ""), str(environ.get("SERVER_PORT", ""))
    default = "443" if environ.get("wsgi.url_scheme") == "https" else "80"
    return name if port in ("", default) else f"{name}:{port}"


class _Exchange:
    """One request and its response (per request, never stored on the middleware)."""

    __slots__ = (
        "app",
        "ctx",
        "done",
        "environ",
        "excluded",
        "middleware",
        "response",
        "ruled_out",
        "sent",
        "started",
        "tracker",
        "user_seen",
    )

    def __init__(self, middleware: PostHogMiddleware, tracker: Tracker, environ: Environ) -> None:
        self.middleware = middleware
        self.app = middleware.app
        self.tracker = tracker
        self.environ = environ
        self.ruled_out = self.excluded = False
        self.ctx: RequestContext | None = None
        self.response: ResponseView | None = None
        self.started: StartedResponse | None = None
        self.user_seen: Any = UNKNOWN
        self.done = False
        # The status line went out: a body chunk was passed on (PEP 3333 servers send
        # the headers with the first non-empty one) or write() was called.
        self.sent = False

    def run(self, start_response: StartResponse) -> Iterable[bytes]:
        with _GUARD_START:
            view = request_view(self.environ)
            self.excluded = self.tracker.request_excluded(view)
            self.ruled_out = self.tracker.rules_out(view, excluded=self.excluded)
            self.ctx = self.tracker.start(view)
        ctx = self.ctx
        if ctx is None:
            return self.middleware._skipped(self.environ, start_response)
        self.environ[HELPER_KEY] = ctx.helper
        ctx.refresh_user = self._refresh_user
        ctx.route_reader = self._route
        self._refresh_user()
        token = bind(ctx.helper)
        try:
            body = self.app(self.environ, self._wrap(start_response))
        except BaseException as exc:
            self._escaped(exc)
            ctx.release()
            raise
        finally:
            unbind(token)
        if self.response is None:
            return _Body(body, self, ctx.helper)  # start_response comes with the first chunk
        file_wrapper = self.environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            # Passed through untouched (the server may sendfile() it): a file, not a page.
            self._finish(streaming=True)
            return body
        if isinstance(body, (list, tuple)):
            # The whole body, passed through untouched; the title is read from a body of
            # one chunk only, as in the ASGI adapter.
            whole = body[0] if len(body) == 1 and isinstance(body[0], bytes) else None
            self._finish(streaming=False, body=whole)
            return body
        if self.environ.get(BODY_KEY) is not None:
            self._finish(streaming=False)  # the framework holds the whole body (Flask)
            return body
        return _Body(body, self, ctx.helper)

    def _route(self) -> tuple[str | None, str | None, str | None]:
        route = self.environ.get(ROUTE_KEY)
        return (None, None, None) if route is None else route

    def _escaped(self, exc: BaseException) -> None:
        # Autocapture, then the caller re-raises: Exception only (KeyboardInterrupt,
        # SystemExit and GeneratorExit are no errors of the app).
        ctx = self.ctx
        if ctx is None or not isinstance(exc, Exception):
            return
        with _GUARD_EXCEPTION:
            response = self.response
            sent = response.status if self.sent and response is not None else None
            self.tracker.errors.escaped(ctx, exc, source=SOURCE_WSGI, sent=sent)

    def _refresh_user(self) -> None:
        # Read at the start, whenever the helper needs the visitor's id and when the
        # response starts: a framework's user may appear only inside the app.
        ctx = self.ctx
        if ctx is None or ctx.explicit_identity:
            return
        with guarded("reading the user"):
            distinct_id = self.middleware.user_id(self.environ)
            if distinct_id is UNKNOWN or distinct_id == self.user_seen:
                return
            self.user_seen = distinct_id
            if distinct_id is not None:
                distinct_id = str(distinct_id)
            reader = self.middleware.user_properties
            properties = reader(self.environ) if reader and distinct_id is not None else None
            self.tracker.set_user(ctx, distinct_id, properties)

    def _wrap(self, start_response: StartResponse) -> StartResponse:
        def wrapped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            headers = self._on_start(status, headers)
            if exc_info is None:
                write = start_response(status, headers)
            else:
                write = start_response(status, headers, exc_info)

            def write_body(data: bytes) -> object:
                # The legacy write() callable: the body does not go through us.
                if self.response is not None:
                    self.response.streaming = True
                self.sent = True
                return write(data)

            return write_body

        return wrapped

    def _on_start(self, status: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        ctx = self.ctx
        with _GUARD_RESPONSE:
            assert ctx is not None
            self._refresh_user()
            content_type = content_encoding = None
            for name, value in headers:
                lowered = name.lower()
                if lowered == "content-type":
                    content_type = value
                elif lowered == "content-encoding":  # a compressing middleware inside
                    content_encoding = value
            self.response = response = ResponseView(
                status=int(status.split(None, 1)[0]),
                content_type=content_type,
                content_encoding=content_encoding,
            )
            self.started = started = start_response(
                self.tracker, ctx, response, ruled_out=self.ruled_out, excluded=self.excluded
            )
            if started.private:
                headers = private_header_list(headers)
                headers.extend(("Set-Cookie", set_cookie_value(c)) for c in started.cookies)
        return headers

    def _finish(self, *, streaming: bool, body: bytes | None = None) -> None:
        ctx, response, started = self.ctx, self.response, self.started
        if ctx is None or self.done:
            return
        self.done = True
        try:
            if response is None or started is None:
                return  # the response start failed in the guard (or never came)
            with _GUARD_PAGEVIEW:
                hint = self.environ.get(BODY_KEY, UNKNOWN)
                if hint is not UNKNOWN:  # a framework adapter knows the body better
                    streaming, body = hint is None, hint
                response.streaming = response.streaming or streaming
                if not response.streaming:
                    response.body = body
                route = self.environ.get(ROUTE_KEY)
                end_response(
                    self.tracker,
                    ctx,
                    response,
                    started,
                    ruled_out=self.ruled_out,
                    route_info=None if route is None else lambda: route,
                )
        finally:
            ctx.release()


class _Body:
    """A streamed body, passed on chunk by chunk with the helper bound; ``close()`` always called.

    The page view is decided when the body is exhausted or closed, whichever comes first.
    """

    __slots__ = ("body", "exchange", "helper", "iterator")

    def __init__(self, body: Iterable[bytes], exchange: _Exchange, helper: RequestHelper) -> None:
        self.body = body
        self.exchange = exchange
        self.helper = helper
        self.iterator: Iterator[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        token = bind(self.helper)  # a streaming generator may use current()
        try:
            iterator = self.iterator
            if iterator is None:
                iterator = self.iterator = iter(self.body)
            chunk = next(iterator)
        except StopIteration:
            self.exchange._finish(streaming=True)
            raise
        except BaseException as exc:
            self.exchange._escaped(exc)
            raise
        finally:
            unbind(token)
        if chunk:
            self.exchange.sent = True
        return chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                token = bind(self.helper)
                try:
                    close()
                except BaseException as exc:
                    self.exchange._escaped(exc)
                    raise
                finally:
                    unbind(token)
        finally:
            self.exchange._finish(streaming=True)
