"""One HTTP request and its response: :class:`Exchange`, per request, never on the middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from posthog_web.asgi.groups import GroupsFn, groups_source
from posthog_web.asgi.request import request_view
from posthog_web.asgi.response import private_headers, set_cookie_header
from posthog_web.asgi.routes import route_view_name
from posthog_web.asgi.types import (
    HELPER_SCOPE_KEY,
    HELPER_STATE_KEY,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
)
from posthog_web.web import ResponseView
from posthog_web.web.context import RequestContext
from posthog_web.web.errors import SOURCE_ASGI
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, bind, unbind
from posthog_web.web.responses import StartedResponse, end_response, start_response
from posthog_web.web.tracker import Tracker

__all__ = ["Exchange", "attach", "run_skipped"]

logger = logging.getLogger(__name__)


class _SkippedHelper(NoopHelper):
    """``request.state.posthog`` for requests the middleware leaves alone (HEAD, disabled)."""

    def _note(self) -> None:
        pass


_SKIPPED = _SkippedHelper()
# Stateless, so shared by every request.
_GUARD_START = guarded("request start")
_GUARD_RESPONSE = guarded("response start")
_GUARD_PAGEVIEW = guarded("page view")
_GUARD_EXCEPTION = guarded("exception capture")


def attach(scope: Scope, helper: object) -> None:
    scope[HELPER_SCOPE_KEY] = helper
    # Servers give every request its own copy of the lifespan state (ASGI spec),
    # so writing into it is per request; outer middleware may share the dict on purpose.
    state = scope.get("state")
    if state is None:
        scope["state"] = state = {}
    state[HELPER_STATE_KEY] = helper


async def run_skipped(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    # The app may still call request.state.posthog or current(): they do nothing, quietly.
    attach(scope, _SKIPPED)
    token = bind(_SKIPPED)
    try:
        await app(scope, receive, send)
    finally:
        unbind(token)


#: The middleware's reading of ``scope["user"]``: its distinct id and person properties.
UserIdentity: TypeAlias = Callable[[Any], tuple["str | None", "Mapping[str, Any] | None"]]


# The ASGI extensions that send a file as the response body.
_FILE_MESSAGES = frozenset(("http.response.pathsend", "http.response.zerocopysend"))


class Exchange:
    """One HTTP request and its response (per request, never stored on the middleware)."""

    __slots__ = (
        "app",
        "body_seen",
        "ctx",
        "done",
        "excluded",
        "groups",
        "response",
        "root_path",
        "ruled_out",
        "scope",
        "send",
        "started",
        "tracker",
        "trailers",
        "user_identity",
        "user_seen",
    )

    def __init__(
        self,
        app: ASGIApp,
        user_identity: UserIdentity,
        tracker: Tracker,
        scope: Scope,
        send: Send,
        groups: GroupsFn | None = None,
    ) -> None:
        self.app = app
        self.groups = groups
        self.user_identity = user_identity
        self.tracker = tracker
        self.scope = scope
        self.send = send
        self.root_path: str = scope.get("root_path", "")
        self.ruled_out = self.excluded = False
        self.ctx: RequestContext | None = None
        self.response: ResponseView | None = None
        self.user_seen: Any = None
        self.started: StartedResponse | None = None
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
            await run_skipped(self.app, self.scope, receive, self.send)
            return
        self._refresh_user()
        self.ctx.refresh_user = self._refresh_user
        self.ctx.route_reader = self._route
        if self.groups is not None:
            self.ctx.groups_source = groups_source(self.groups, self.scope)
        helper = self.ctx.helper
        attach(self.scope, helper)
        token = bind(helper)
        try:
            await self.app(self.scope, receive, self._send)
        except Exception as exc:
            self._escaped(exc)
            raise
        finally:
            unbind(token)
            self.ctx.release()

    def _route(self) -> tuple[str | None, str | None, str | None]:
        return route_view_name(self.scope, self.root_path)

    def _escaped(self, exc: Exception) -> None:
        # Before the response started the server (or Starlette's ServerErrorMiddleware)
        # answers 500; after, the status already sent stands.
        with _GUARD_EXCEPTION:
            ctx = self.ctx
            assert ctx is not None
            sent = None if self.response is None else self.response.status
            self.tracker.errors.escaped(ctx, exc, source=SOURCE_ASGI, sent=sent)

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
            distinct_id, properties = self.user_identity(user)
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
            content_type = content_encoding = None
            for name, value in headers:
                lowered = name.lower()
                if lowered == b"content-type":
                    content_type = value.decode("latin-1")
                elif lowered == b"content-encoding":  # a compressing middleware inside
                    content_encoding = value.decode("latin-1")
            self.trailers = bool(message.get("trailers", False))
            response = ResponseView(
                status=int(message["status"]),
                content_type=content_type,
                content_encoding=content_encoding,
            )
            self.response = response
            self.started = started = start_response(
                tracker, ctx, response, ruled_out=self.ruled_out, excluded=self.excluded
            )
            if started.private:
                # A new message and list: the app may reuse its own across responses.
                message = {
                    **message,
                    "headers": [
                        *private_headers(headers),
                        *map(set_cookie_header, started.cookies),
                    ],
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
        if message_type in _FILE_MESSAGES:
            # A file sent by path (pathsend: one message) or by descriptor (zero copy
            # send, Granian's: one or several): never read, like a stream.
            if self.response is not None:
                self.response.streaming = True
            return not message.get("more_body", False)
        return False

    def _finish(self) -> None:
        ctx, response, started = self.ctx, self.response, self.started
        if ctx is None or response is None or started is None:
            return  # the response start failed in the guard: nothing is known
        with _GUARD_PAGEVIEW:
            end_response(
                self.tracker,
                ctx,
                response,
                started,
                ruled_out=self.ruled_out,
                route_info=lambda: route_view_name(self.scope, self.root_path),
            )
