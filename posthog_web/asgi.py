"""Pure ASGI 3 middleware: page views, identity and ``request.state.posthog``.

Works with Starlette, FastAPI and any other ASGI 3 application; it imports no
framework. It turns the ASGI scope into a :class:`~posthog_web.web.request.RequestView`
and leaves every decision (page view or not, properties, identity, cookies) to
the framework-neutral :class:`~posthog_web.web.tracker.Tracker`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from typing import Any

from posthog_web.client import DEFAULT_HOST, Client
from posthog_web.delivery import recorder as recording
from posthog_web.web import RequestView, ResponseView, SetCookie
from posthog_web.web.caching import private_cache_headers
from posthog_web.web.context import RequestContext
from posthog_web.web.fallback import PLACEHOLDER_API_KEY, keyless_host, recording_only_client
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, bind, unbind
from posthog_web.web.tracker import Tracker, TrackerOptions

__all__ = ["PostHogMiddleware", "parse_cookie_header", "request_view"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DistinctIdFn = Callable[[Any], "str | None"]
PersonPropertiesFn = Callable[[Any], "Mapping[str, Any] | None"]

HELPER_SCOPE_KEY = "posthog_web"
HELPER_STATE_KEY = "posthog"

_TRACKER_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(TrackerOptions))


class _SkippedHelper(NoopHelper):
    """``request.state.posthog`` for requests the middleware leaves alone (HEAD, disabled)."""

    def _note(self) -> None:
        pass


_SKIPPED = _SkippedHelper()
# Stateless, so shared by every request.
_GUARD_START = guarded("request start")
_GUARD_RESPONSE = guarded("response start")
_GUARD_PAGEVIEW = guarded("page view")


class PostHogMiddleware:
    """Record page views and identity for an ASGI 3 application.

    ``app.add_middleware(PostHogMiddleware, api_key="phc_...")`` in Starlette and
    FastAPI, or ``PostHogMiddleware(app, client=Client(...))`` around any ASGI app.

    Args:
        app: the ASGI application to wrap.
        api_key: the project API key; a :class:`~posthog_web.Client` is built from it.
        host: the PostHog ingestion host used with ``api_key`` (by default PostHog's US
            cloud). Without ``api_key``, only a loopback host (a local inbox) is used.
        local_inbox: without ``api_key`` and ``host``, send events to the local inbox
            (``posthog-web inbox``) at ``http://127.0.0.1:8010``; for example
            ``local_inbox=settings.debug``. An ``api_key`` always wins.
        client: an existing client to use instead of ``api_key``/``host``.
        distinct_id: ``callable(user) -> str | None`` giving the distinct id of an
            authenticated ``scope["user"]``; by default ``user.identity``.
        person_properties: ``callable(user) -> Mapping | None`` giving person
            properties for that user; by default none.
        secret_key: key signing the anonymous-id cookie (``TrackerOptions.cookie_secret``).
        flush_timeout: seconds the lifespan shutdown waits for queued events to be sent.
        **options: any :class:`~posthog_web.web.tracker.TrackerOptions` field, by name.

    Without ``api_key`` and ``client`` (and no local inbox) it is disabled (one
    warning) and only passes requests through, with a no-op ``request.state.posthog``;
    while the ``posthog_events`` test fixture is active it records as if configured.
    Where events go is logged at start-up.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None = None,
        host: str | None = None,
        local_inbox: bool = False,
        client: Client | None = None,
        distinct_id: DistinctIdFn | None = None,
        person_properties: PersonPropertiesFn | None = None,
        secret_key: str | None = None,
        flush_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - _TRACKER_OPTION_NAMES)
        if unknown:
            raise TypeError(
                f"PostHogMiddleware got unknown keyword argument(s): {', '.join(unknown)}"
            )
        if "cookie_secret" in options and secret_key is not None:
            raise TypeError("PostHogMiddleware: pass secret_key or cookie_secret, not both")
        if client is not None and api_key is not None:
            raise TypeError("PostHogMiddleware: pass api_key or client, not both")
        if not isinstance(local_inbox, bool):
            raise TypeError("PostHogMiddleware: local_inbox must be True or False")
        if distinct_id is not None and not callable(distinct_id):
            raise TypeError("PostHogMiddleware: distinct_id must be a callable taking the user")
        if person_properties is not None and not callable(person_properties):
            raise TypeError(
                "PostHogMiddleware: person_properties must be a callable taking the user"
            )
        if (
            isinstance(flush_timeout, bool)
            or not isinstance(flush_timeout, (int, float))
            or not flush_timeout >= 0
        ):
            raise ValueError("PostHogMiddleware: flush_timeout must be a number of seconds >= 0")
        if secret_key is not None:
            options["cookie_secret"] = secret_key

        self.app = app
        self.flush_timeout = float(flush_timeout)
        self._distinct_id = distinct_id
        self._person_properties = person_properties
        self._tracker_options = tracker_options = TrackerOptions(**options)
        self.tracker: Tracker | None = None
        self._recording_tracker: Tracker | None = None
        if client is None:
            client = _client(api_key, host, local_inbox)
            if client is None:
                return
        self.tracker = Tracker(client, tracker_options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "http":
            tracker = self.tracker
            if tracker is None and recording.active is not None:
                tracker = self._recording_only()
            if tracker is not None and scope.get("method") != "HEAD":
                await _Exchange(self, tracker, scope, send).run(receive)
            else:
                await _run_skipped(self.app, scope, receive, send)
            return
        if scope_type == "lifespan" and self.tracker is not None:
            await _Lifespan(self.app, self.tracker.client, self.flush_timeout).run(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _recording_only(self) -> Tracker:
        # Built on first use: an app that is never tested with the fixture never pays.
        tracker = self._recording_tracker
        if tracker is None:
            tracker = Tracker(recording_only_client(), self._tracker_options)
            self._recording_tracker = tracker
        return tracker

    def _user_identity(self, user: Any) -> tuple[str | None, Mapping[str, Any] | None]:
        """The distinct id and person properties of ``scope["user"]`` (``None`` if anonymous)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return None, None
        distinct_id = self._distinct_id(user) if self._distinct_id else user.identity
        if distinct_id is None:
            return None, None
        properties = self._person_properties(user) if self._person_properties else None
        return str(distinct_id), properties


def _client(api_key: str | None, host: str | None, local_inbox: bool) -> Client | None:
    """The client for ``api_key``/``host`` (see :mod:`posthog_web.web.fallback`), or None."""
    if api_key:
        client = Client(api_key, host=host or DEFAULT_HOST)
        logger.info("posthog-web: sending events to %s", client.host)
        return client
    inbox = keyless_host(host, local_inbox=local_inbox)
    if inbox is None:
        logger.warning(
            "posthog-web: PostHogMiddleware has no api_key and no client; it is disabled "
            "and sends nothing (local_inbox=True sends to `posthog-web inbox`)"
        )
        return None
    client = Client(PLACEHOLDER_API_KEY, host=inbox)
    logger.info(
        "posthog-web: no api_key; events go to the local inbox at %s "
        "(start it with `posthog-web inbox`)",
        client.host,
    )
    return client


def _attach(scope: Scope, helper: object) -> None:
    scope[HELPER_SCOPE_KEY] = helper
    # Servers give every request its own copy of the lifespan state (ASGI spec),
    # so writing into it is per request; outer middleware may share the dict on purpose.
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state[HELPER_STATE_KEY] = helper


async def _run_skipped(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    # The app may still call request.state.posthog or current(): they do nothing, quietly.
    _attach(scope, _SKIPPED)
    token = bind(_SKIPPED)
    try:
        await app(scope, receive, send)
    finally:
        unbind(token)


class _Exchange:
    """One HTTP request and its response (per request, never stored on the middleware)."""

    __slots__ = (
        "body_seen",
        "ctx",
        "done",
        "excluded",
        "middleware",
        "response",
        "root_path",
        "ruled_out",
        "scope",
        "send",
        "tracker",
        "trailers",
        "user_seen",
        "verdict",
    )

    def __init__(
        self, middleware: PostHogMiddleware, tracker: Tracker, scope: Scope, send: Send
    ) -> None:
        self.middleware = middleware
        self.tracker = tracker
        self.scope = scope
        self.send = send
        self.root_path: str = scope.get("root_path", "")
        self.ruled_out = self.excluded = False
        self.ctx: RequestContext | None = None
        self.response: ResponseView | None = None
        self.user_seen: Any = None
        self.verdict: bool | None = None
        self.body_seen = False
        self.trailers = False
        self.done = False

    async def run(self, receive: Receive) -> None:
        with _GUARD_START:
            view = request_view(self.scope)
            self.excluded = self.tracker.request_excluded(view)
            self.ruled_out = self.tracker.rules_out(view, excluded=self.excluded)
            self.ctx = self.tracker.start(view)
        if self.ctx is None:
            await _run_skipped(self.middleware.app, self.scope, receive, self.send)
            return
        self._refresh_user()
        self.ctx.refresh_user = self._refresh_user
        helper = self.ctx.helper
        _attach(self.scope, helper)
        token = bind(helper)
        try:
            await self.middleware.app(self.scope, receive, self._send)
        finally:
            unbind(token)
            self.ctx.release()

    def _refresh_user(self) -> None:
        # scope["user"] may appear only after an inner AuthenticationMiddleware ran,
        # so it is read at the start, whenever the helper needs the visitor's id, and
        # when the response starts.
        user = self.scope.get("user")
        if user is None or user is self.user_seen:
            return
        ctx = self.ctx
        assert ctx is not None
        self.user_seen = user
        if ctx.explicit_identity:
            return  # login()/logout() in this request wins over the auth middleware
        # Its own guard: a failing user callable loses the user, not the page view.
        with guarded("reading scope['user']"):
            distinct_id, properties = self.middleware._user_identity(user)
            self.tracker.set_user(ctx, distinct_id, properties)

    async def _send(self, message: Message) -> None:
        message_type = message["type"]
        if message_type == "http.response.start":
            message = self._on_start(message)
        elif not self.done and self._is_last(message, message_type):
            # The page view is enqueued only once the response is on its way.
            self.done = True
            await self.send(message)
            self._finish()
            return
        await self.send(message)

    def _on_start(self, message: Message) -> Message:
        tracker, ctx = self.tracker, self.ctx
        if ctx is None:  # pragma: no cover - run() never wraps send without a context
            return message
        with _GUARD_RESPONSE:
            self._refresh_user()
            headers = message.get("headers") or ()
            content_type = None
            for name, value in headers:
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
                    break
            self.trailers = bool(message.get("trailers", False))
            response = ResponseView(status=int(message["status"]), content_type=content_type)
            self.response = response
            if ctx.page_requested:
                verdict = None
            elif self.ruled_out:
                verdict = False
            else:
                verdict = tracker.is_pageview(ctx.request, response, excluded=self.excluded)
            self.verdict = verdict
            if ctx.page_requested or verdict:
                # Mint the anonymous id and the session now: their cookies can only go
                # out with these headers.
                tracker.distinct_id(ctx)
                tracker.session_id(ctx)
            cookies = tracker.response_cookies(ctx)
            if tracker.per_visitor(ctx, cookies):
                # A new message and list: the app may reuse its own across responses.
                message = {
                    **message,
                    "headers": [*_private(headers), *map(_set_cookie_header, cookies)],
                }
        return message

    def _is_last(self, message: Message, message_type: str) -> bool:
        if message_type == "http.response.body":
            more = bool(message.get("more_body", False))
            if not self.body_seen:
                self.body_seen = True
                response = self.response
                if response is not None:
                    if more:
                        response.streaming = True
                    else:
                        # The whole body in one message: kept by reference, for <title>.
                        body = message.get("body")
                        response.body = body if isinstance(body, bytes) else None
            return not more and not self.trailers
        if message_type == "http.response.trailers":
            return not message.get("more_trailers", False)
        if message_type == "http.response.pathsend":
            # A whole file in one message (the ASGI pathsend extension): a static file.
            if self.response is not None:
                self.response.streaming = True
            return True
        return False

    def _finish(self) -> None:
        ctx, response = self.ctx, self.response
        if ctx is None or response is None:
            return  # the response start failed in the guard: nothing is known
        with _GUARD_PAGEVIEW:
            # The rules already ran at the response start; only streaming can change them.
            verdict = None if response.streaming and not self.ruled_out else self.verdict
            if verdict is False and not ctx.page_requested:
                self.tracker.finish(ctx, response, pageview=False)
                return
            route, view, route_name = _route_view_name(self.scope, self.root_path)
            self.tracker.finish(
                ctx, response, route=route, view=view, route_name=route_name, pageview=verdict
            )


class _Lifespan:
    """Pass the lifespan protocol through, flushing the client before shutdown is acknowledged.

    When the wrapped app does not speak lifespan (it raises or returns at once), the
    middleware answers the protocol itself, so a bare ASGI app still gets the flush.
    """

    __slots__ = ("acknowledged", "app", "client", "received", "timeout")

    def __init__(self, app: ASGIApp, client: Client, timeout: float) -> None:
        self.app = app
        self.client = client
        self.timeout = timeout
        self.received: set[str] = set()
        self.acknowledged = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_wrapper() -> Message:
            message = await receive()
            self.received.add(message["type"])
            return message

        async def send_wrapper(message: Message) -> None:
            self.acknowledged = True
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._flush()
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            if self.acknowledged or not self._may_take_over():
                raise
            logger.debug("posthog-web: the app does not support lifespan; answering it")
        else:
            if self.acknowledged or not self._may_take_over():
                return
        await self._answer(receive, send)

    def _may_take_over(self) -> bool:
        return "lifespan.shutdown" not in self.received

    async def _answer(self, receive: Receive, send: Send) -> None:
        if "lifespan.startup" not in self.received:
            await receive()
        await send({"type": "lifespan.startup.complete"})
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        await self._flush()
        await send({"type": "lifespan.shutdown.complete"})

    async def _flush(self) -> None:
        with guarded("lifespan flush"):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not asyncio (trio): block, the server is stopping anyway
                self.client.flush(self.timeout)
                return
            # flush() blocks until the sender thread is done; keep the loop free meanwhile.
            await loop.run_in_executor(None, self.client.flush, self.timeout)


def request_view(scope: Scope) -> RequestView:
    """Build the framework-neutral view of an ASGI HTTP scope."""
    raw = scope.get("headers") or ()
    if not isinstance(raw, list):
        raw = list(raw)
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
    if len(headers) != len(raw):
        headers = _joined_headers(raw)
    host = headers.get("host") or _server_host(scope)
    client = scope.get("client")
    return RequestView(
        method=str(scope.get("method", "GET")).upper(),
        scheme=str(scope.get("scheme", "http")),
        host=host.lower(),
        path=scope.get("path") or "/",
        query_string=(scope.get("query_string") or b"").decode("latin-1"),
        headers=headers,
        cookies=_Cookies(headers.get("cookie", "")),
        client_ip=str(client[0]) if client else None,
    )


def _joined_headers(raw: list[Any]) -> dict[str, str]:
    # A repeated header: its values joined as one (cookies with "; ", as browsers do).
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    return headers


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return ""
    host, port = server[0], server[1]
    default = 443 if scope.get("scheme") in ("https", "wss") else 80
    return str(host) if port in (None, default) else f"{host}:{port}"


class _Cookies(Mapping[str, str]):
    """The request's cookies, parsed on first use; a name absent from the header is not."""

    __slots__ = ("_header", "_parsed")

    def __init__(self, header: str) -> None:
        self._header = header
        self._parsed: dict[str, str] | None = None

    def _cookies(self) -> dict[str, str]:
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = parse_cookie_header(self._header)
        return parsed

    def get(self, name: str, default: Any = None) -> Any:
        if self._parsed is None:
            header = self._header
            at = header.find(name)
            if at < 0:
                return default
            if header.find(name, at + 1) < 0:
                # The name occurs once: read its cookie in place, as the full parse would.
                start = header.rfind(";", 0, at) + 1
                end = header.find(";", at)
                chunk = header[start:] if end < 0 else header[start:end]
                key, sep, value = chunk.partition("=")
                if not sep or key.strip() != name:
                    return default
                return _cookie_value(value)
        return self._cookies().get(name, default)

    def __contains__(self, name: object) -> bool:
        if self._parsed is None and isinstance(name, str) and name not in self._header:
            return False
        return name in self._cookies()

    def __getitem__(self, name: str) -> str:
        return self._cookies()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cookies())

    def __len__(self) -> int:
        return len(self._cookies())

    def __repr__(self) -> str:
        return repr(self._cookies())


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the lenient way browsers send it (values left encoded)."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        cookies.setdefault(name, _cookie_value(value))
    return cookies


def _cookie_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _private(headers: Any) -> list[Any]:
    """``headers`` with Cache-Control and Vary made private, in place (appended if absent)."""
    kept: list[Any] = []
    found: dict[bytes, list[str]] = {b"cache-control": [], b"vary": []}
    where: dict[bytes, int] = {}
    for name, value in headers:
        lowered = bytes(name).lower()
        values = found.get(lowered)
        if values is None:
            kept.append((name, value))
            continue
        values.append(bytes(value).decode("latin-1"))
        if lowered not in where:
            where[lowered] = len(kept)
            kept.append(None)  # its place, filled below
    cache_control, vary = private_cache_headers(
        ", ".join(found[b"cache-control"]), ", ".join(found[b"vary"])
    )
    for name, value in ((b"cache-control", cache_control), (b"vary", vary)):
        header = (name, value.encode("latin-1"))
        if name in where:
            kept[where[name]] = header
        else:
            kept.append(header)
    return kept


def _set_cookie_header(cookie: SetCookie) -> tuple[bytes, bytes]:
    parts = [f"{cookie.name}={cookie.value}", f"Max-Age={cookie.max_age}", f"Path={cookie.path}"]
    if cookie.max_age <= 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    if cookie.secure:
        parts.append("Secure")
    if cookie.httponly:
        parts.append("HttpOnly")
    if cookie.samesite:
        parts.append(f"SameSite={cookie.samesite}")
    return b"set-cookie", "; ".join(parts).encode("latin-1")


_RouteInfo = tuple["str | None", "str | None", "str | None"]
# (id(route), id(endpoint), root paths) -> (route, endpoint, info); the objects are kept
# so that an id is never reused while its entry lives. Routes are few and long-lived.
_route_infos: dict[tuple[int, int, str, str], tuple[object, object, _RouteInfo]] = {}
_ROUTE_INFOS_SIZE = 1024


def _route_view_name(scope: Scope, root_path: str) -> _RouteInfo:
    """The route template, endpoint name and route name the router left in the scope."""
    route, endpoint = scope.get("route"), scope.get("endpoint")
    key = (id(route), id(endpoint), scope.get("root_path", ""), root_path)
    cached = _route_infos.get(key)
    if cached is not None and cached[0] is route and cached[1] is endpoint:
        return cached[2]
    info = _describe_route(scope, root_path)
    if len(_route_infos) >= _ROUTE_INFOS_SIZE:
        _route_infos.clear()
    _route_infos[key] = (route, endpoint, info)
    return info


def _describe_route(scope: Scope, root_path: str) -> _RouteInfo:
    route = scope.get("route")
    path = getattr(route, "path", None)
    template: str | None = None
    if isinstance(path, str):
        # Inside a Mount, root_path grew by the mount prefix and route.path is relative.
        final_root = scope.get("root_path", "")
        prefix = final_root[len(root_path) :] if final_root.startswith(root_path) else ""
        template = prefix + path
    name = getattr(route, "name", None)
    route_name = name if isinstance(name, str) and name and not name.startswith("<") else None
    endpoint = scope.get("endpoint")
    view: str | None = None
    if endpoint is not None:
        qualname = getattr(endpoint, "__qualname__", None) or type(endpoint).__qualname__
        module = getattr(endpoint, "__module__", None)
        view = f"{module}.{qualname}" if module else qualname
    return template, view, route_name
