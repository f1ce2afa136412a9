"""The inbox's HTTP request handler: capture routes, posthog-js endpoints, pages and JSON API.

It is the package-internal side of InboxServer and uses its private store, stop event and
request log.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from posthog_web.inbox import ui
from posthog_web.inbox.body import BodyProblem, read_body
from posthog_web.inbox.decoding import DecodeError, decode_body
from posthog_web.inbox.faults import FaultAction
from posthog_web.inbox.flags import DEFINITIONS_ROUTES, FLAG_CALLED
from posthog_web.inbox.persons import merge_view
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.sessions import group_sessions
from posthog_web.inbox.state import InboxState
from posthog_web.inbox.ui import html as ui_html
from posthog_web.inbox.validation import Refusal, body_limit, validate_capture

logger = logging.getLogger(__name__)

CAPTURE_PATHS = frozenset({"/batch", "/capture", "/e", "/i/v0/e", "/track", "/engage"})
_REMOTE_CONFIG = {
    "supportedCompression": ["gzip", "gzip-js"],
    "hasFeatureFlags": False,
    "sessionRecording": False,
    "heatmaps": False,
    "surveys": False,
    "siteApps": [],
}
_RECORDING_LIMIT = 25 * 1024 * 1024
_OTHER_LIMIT = 2 * 1024 * 1024


class InboxRequestHandler(BaseHTTPRequestHandler):
    """One connection to the inbox; ``inbox`` is the state it reads and records into."""

    protocol_version = "HTTP/1.1"
    server_version = "posthog-web-inbox"
    sys_version = ""
    # Idle keep-alive connections and stalled uploads are closed after this many seconds.
    timeout = 30.0
    disable_nagle_algorithm = True

    def __init__(
        self, request: Any, client_address: Any, server: Any, *, inbox: InboxState
    ) -> None:
        # Set before the base class handles the request, which it does in __init__.
        self.inbox = inbox
        super().__init__(request, client_address, server)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("inbox: %s - " + format, self.address_string(), *args)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            # The client went away (reset, broken pipe, timeout): nothing to answer.
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_DELETE = do_OPTIONS = do_HEAD = do_PUT = do_PATCH = do_GET

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        route = url.path.rstrip("/") or "/"
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            if self.command == "OPTIONS":
                read_body(self.rfile, self.headers, _OTHER_LIMIT)
                self._respond(200, b"", None, self._preflight_headers())
            elif route in CAPTURE_PATHS:
                self._capture(url.path, route, query)
            else:
                self._other(route, query)
        except BodyProblem as exc:
            self.close_connection = True
            if exc.kind == "too_big":
                self._send_json(413, Refusal(413, "event_too_big", "body is too large").body())
            elif exc.kind == "bad_length":
                self._send_json(400, Refusal(400, "invalid_payload", "bad body framing").body())
        except OSError:
            raise
        except Exception:
            logger.exception("inbox: failed to handle %s %s", self.command, url.path)
            self.close_connection = True
            self._send_json(500, {"type": "server_error", "code": "inbox_error", "status": 500})

    # -- capture -------------------------------------------------------------------------------

    def _capture(self, path: str, route: str, query: dict[str, str]) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        received_at = time.time()
        body, too_big = b"", False

        def record(status: int, error: str | None) -> None:
            request = RecordedRequest(
                self.command, path, query, headers, body, status, error, received_at
            )
            self.inbox.requests.add(request)

        try:
            body = read_body(self.rfile, self.headers, body_limit(route))
        except BodyProblem as exc:
            if exc.kind != "too_big":
                self.close_connection = True
                record(400 if exc.kind == "bad_length" else 0, exc.kind)
                raise
            too_big = True

        if self.command not in ("GET", "POST"):
            record(405, "method not allowed")
            self._send_json(405, Refusal(405, "method_not_allowed", "use GET or POST").body())
            return
        if self.inbox.faults.latency:
            self.inbox.stopping.wait(self.inbox.faults.latency)
        action = self.inbox.faults.next_action()
        if action is not None:
            self._fault(action, record)
            return
        if too_big:
            refusal = Refusal(413, "event_too_big", "body is over the route's size limit")
            record(413, refusal.detail)
            self.close_connection = True
            self._send_json(413, refusal.body())
            return
        payload = query.get("data", "").encode() if self.command == "GET" else body
        result = validate_capture(route, payload, query=query, headers=headers)
        if isinstance(result, Refusal):
            record(result.status, result.detail)
            self._send_json(result.status, result.body())
            return
        if result.events:
            self.inbox.store.add(result.events)
        if query.get("beacon") == "1":
            record(204, None)
            self._respond(204, b"", None)
        else:
            record(200, None)
            self._send_json(200, {"status": "Ok"})

    def _fault(self, action: FaultAction, record: Callable[[int, str | None], None]) -> None:
        if action.kind == "fail":
            record(action.status, f"injected fault: status {action.status}")
            body = Refusal(action.status, "injected_fault", "fault injected by the inbox").body()
            body["type"] = "server_error"
            self._send_json(action.status, body, action.headers.items())
            return
        self.close_connection = True
        record(0, f"injected fault: {action.kind}")
        if action.kind == "hang":
            self.inbox.stopping.wait(action.seconds)

    # -- everything else -----------------------------------------------------------------------

    def _other(self, route: str, query: dict[str, str]) -> None:
        body = read_body(
            self.rfile, self.headers, _RECORDING_LIMIT if route == "/s" else _OTHER_LIMIT
        )
        method = "GET" if self.command == "HEAD" else self.command
        if route.startswith("/array/") and method == "GET":
            if route.endswith("/config.js"):
                script = b"/* posthog-web inbox: no remote config */\n"
                self._respond(200, script, "application/javascript; charset=utf-8")
            elif route.endswith("/config"):
                # posthog-js asks /flags only when the remote config says there are flags.
                has_flags = bool(self.inbox.flags.current()[2].flags)
                self._send_json(200, {**_REMOTE_CONFIG, "hasFeatureFlags": has_flags})
            else:
                self._not_found()
        elif route in DEFINITIONS_ROUTES or route in ("/flags", "/decide", "/api/flags"):
            self._flags(route, method, query, body)
        elif route == "/s" and method in ("GET", "POST"):
            self._send_json(200, {"status": "Ok"})
        elif route.startswith("/api/view/") and method == "GET":
            view = ui.by_name(route.removeprefix("/api/view/"))
            if view is None:
                self._not_found()
            else:
                self._view(view, query, as_page=False)
        elif route.startswith("/api/"):
            self._api(route, method, query, body)
        elif method == "GET" and (page_view := ui.by_page(route)) is not None:
            self._view(page_view, query, as_page=True)
        else:
            self._not_found()

    def _api(self, route: str, method: str, query: dict[str, str], body: bytes) -> None:
        inbox = self.inbox
        if route == "/api/health" and method == "GET":
            self._send_json(200, {"ok": True})
        elif route == "/api/events" and method == "GET":
            raw_limit = query.get("limit") or None
            if raw_limit is not None and not raw_limit.isdecimal():
                self._send_json(400, {"error": "limit must be a non-negative integer"})
                return
            limit = None if raw_limit is None else int(raw_limit)
            events = inbox.store.events(query.get("event"), query.get("distinct_id"), limit)
            self._send_json(200, {"events": events})
        elif route == "/api/events" and method == "DELETE":
            inbox.clear()
            self._send_json(200, {"ok": True})
        elif route == "/api/persons" and method == "GET":
            persons, refusals = merge_view(inbox.store.events())
            self._send_json(200, {"persons": persons, "refusals": refusals})
        elif route == "/api/sessions" and method == "GET":
            self._send_json(200, {"sessions": group_sessions(inbox.store.events())})
        elif route == "/api/requests" and method == "GET":
            self._send_json(200, {"requests": [_summary(r) for r in inbox.requests.all()]})
        elif route == "/api/faults" and method == "GET":
            self._send_json(200, {"faults": inbox.faults.describe()})
        elif route == "/api/faults" and method == "POST":
            try:
                inbox.faults.configure(json.loads(body.decode("utf-8")))
            except (ValueError, UnicodeDecodeError) as exc:
                self._send_json(400, {"error": str(exc)})
                return
            self._send_json(200, {"ok": True, "faults": inbox.faults.describe()})
        else:
            self._not_found()

    def _flags(self, route: str, method: str, query: dict[str, str], body: bytes) -> None:
        flags = self.inbox.flags
        if route in DEFINITIONS_ROUTES and method == "GET":
            status, answer, headers = flags.definitions_answer(
                self.headers.get("Authorization"), self.headers.get("If-None-Match")
            )
            if answer is None:
                self._respond(status, b"", None, headers)
            else:
                self._send_json(status, answer, headers)
        elif route == "/api/flags" and method == "GET":
            self._send_json(200, flags.summary(self.inbox.store.events(FLAG_CALLED)))
        elif route in ("/flags", "/decide") and method in ("GET", "POST"):
            try:
                request = decode_body(
                    body if method == "POST" else query.get("data", "").encode(),
                    query=query,
                    content_type=self.headers.get("Content-Type"),
                    content_encoding=self.headers.get("Content-Encoding"),
                    limit=_OTHER_LIMIT,
                )
            except DecodeError:
                request = {}  # as before: an undecodable body gets the flags of nobody
            self._send_json(200, flags.flags_answer(request))
        else:
            self._not_found()

    def _view(self, view: ui.View, query: dict[str, str], *, as_page: bool) -> None:
        context = ui.ViewContext(
            self.inbox.data,
            self.inbox.requests.all(),
            query,
            dt.datetime.now(dt.timezone.utc),
            self.inbox.flags,
        )
        try:
            figures = view.figures(context)
        except (ValueError, LookupError) as exc:
            status = 404 if isinstance(exc, LookupError) else 400
            if not as_page:
                self._send_json(status, {"error": str(exc).strip("'\"")})
                return
            body = f'<p class="flag">{html.escape(str(exc))}</p>'
        else:
            status = 200
            if not as_page:
                self._send_json(200, figures)
                return
            body = view.render(context, figures)
        if query.get("fragment"):
            self._respond(status, body.encode("utf-8"), "text/html; charset=utf-8")
            return
        nonce = secrets.token_urlsafe(16)
        nav = [(v.page, v.title) for v in ui.navigation()]
        page = ui_html.layout(view.title, body, nav, view.page, nonce)
        csp = [("Content-Security-Policy", ui_html.content_security_policy(nonce))]
        self._respond(status, page.encode("utf-8"), "text/html; charset=utf-8", csp)

    def _not_found(self) -> None:
        self._send_json(404, {"type": "not_found", "code": "not_found", "status": 404})

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _cors_headers(self) -> list[tuple[str, str]]:
        origin = self.headers.get("Origin")
        if not origin:
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]

    def _preflight_headers(self) -> list[tuple[str, str]]:
        headers = [
            ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS"),
            ("Access-Control-Max-Age", "600"),
        ]
        requested = self.headers.get("Access-Control-Request-Headers")
        if requested:
            headers.append(("Access-Control-Allow-Headers", requested))
        if self.headers.get("Access-Control-Request-Private-Network"):
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        return headers

    def _send_json(self, status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> None:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._respond(status, body, "application/json", headers)

    def _respond(
        self,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.send_response(status)
        for name, value in [*self._cors_headers(), *headers]:
            self.send_header(name, value)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
            self.send_header("Cache-Control", "no-store")
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(body)


def _summary(request: RecordedRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": request.headers,
        "body_size": len(request.body),
        "status": request.status,
        "error": request.error,
    }
