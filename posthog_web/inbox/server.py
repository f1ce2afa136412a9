"""The inbox HTTP server: PostHog's capture routes, the posthog-js endpoints, the page and JSON API.

Standard library only (``http.server`` with a thread per connection, HTTP/1.1 keep-alive).
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from posthog_web.inbox import page
from posthog_web.inbox.decoding import decode_body
from posthog_web.inbox.faults import FaultAction, FaultInjector
from posthog_web.inbox.persons import merge_view
from posthog_web.inbox.sessions import group_sessions
from posthog_web.inbox.store import EventStore
from posthog_web.inbox.validation import Refusal, body_limit, validate_capture

logger = logging.getLogger(__name__)

CAPTURE_PATHS = frozenset({"/batch", "/capture", "/e", "/i/v0/e", "/track", "/engage"})
FLAGS_BODY = {"featureFlags": {}, "featureFlagPayloads": {}, "errorsWhileComputingFlags": False}
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
# An oversized body is read and discarded up to this size so the client sees the 413.
_MAX_DRAIN = 64 * 1024 * 1024
_PAGE_LIMIT = 200
_LINGER_SECONDS = 0.5
_MAX_LINGER_BYTES = 1 << 20
_STOP_TIMEOUT = 5.0


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request to a capture path, as the inbox saw and answered it.

    ``status`` is 0 when no response was sent (dropped, hung or cut-off requests); ``error`` says
    why a request was refused or faulted, None when it was accepted.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    error: str | None

    def decoded(self) -> Any:
        """The body decoded as capture would (gzip, base64, form); raises ValueError."""
        route = self.path.rstrip("/") or "/"
        raw = self.query["data"].encode() if self.method == "GET" else self.body
        return decode_body(
            raw,
            query=self.query,
            content_type=self.headers.get("content-type"),
            content_encoding=self.headers.get("content-encoding"),
            limit=body_limit(route),
        )


class _BodyProblem(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _HTTPServer(HTTPServer):
    """An HTTPServer that runs a daemon thread per connection and can close them all."""

    def __init__(self, address: tuple[str, int], inbox: InboxServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.inbox = inbox
        self._active: dict[threading.Thread, Any] = {}
        self._active_lock = threading.Lock()
        # serve() waits on the listening socket and on this pair, so stop() is instant.
        self._wake_reader, self._wake_writer = socket.socketpair()
        try:
            super().__init__(address, _Handler)
        except BaseException:
            self._close_wake_pair()
            raise

    def serve(self, stopping: threading.Event) -> None:
        """Accept connections until ``stopping`` is set and wake() is called."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not stopping.is_set():
                ready = selector.select()
                if stopping.is_set() or any(k.fileobj is self._wake_reader for k, _ in ready):
                    return
                try:
                    request, client_address = self.get_request()
                except OSError:
                    continue
                self.process_request(request, client_address)

    def wake(self) -> None:
        """Make serve() return (after ``stopping`` was set)."""
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass

    def server_close(self) -> None:
        super().server_close()
        self._close_wake_pair()

    def _close_wake_pair(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="posthog-web-inbox-connection",
            daemon=True,
        )
        with self._active_lock:
            self._active[thread] = request
        try:
            thread.start()
        except RuntimeError:
            with self._active_lock:
                self._active.pop(thread, None)
            self.shutdown_request(request)

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._active_lock:
                self._active.pop(threading.current_thread(), None)

    def shutdown_request(self, request: Any) -> None:
        # A lingering close: send FIN, then read what the client still sends, so closing with
        # unread input does not turn into a TCP reset that destroys the response in flight.
        try:
            request.shutdown(socket.SHUT_WR)
            request.settimeout(_LINGER_SECONDS)
            drained = 0
            while drained < _MAX_LINGER_BYTES:
                chunk = request.recv(1 << 16)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("inbox: connection from %s failed", client_address, exc_info=True)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection (waking blocked reads), then wait for the threads."""
        with self._active_lock:
            active = dict(self._active)
        for sock in active.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in active:
            thread.join(max(0.0, deadline - time.monotonic()))


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "posthog-web-inbox"
    sys_version = ""
    # Idle keep-alive connections and stalled uploads are closed after this many seconds.
    timeout = 30.0
    disable_nagle_algorithm = True

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

    @property
    def inbox(self) -> InboxServer:
        return self.server.inbox

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        route = url.path.rstrip("/") or "/"
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            if self.command == "OPTIONS":
                self._read_body(_OTHER_LIMIT)
                self._respond(200, b"", None, self._preflight_headers())
            elif route in CAPTURE_PATHS:
                self._capture(url.path, route, query)
            else:
                self._other(route, query)
        except _BodyProblem as exc:
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
        too_big = False
        try:
            body = self._read_body(body_limit(route))
        except _BodyProblem as exc:
            if exc.kind != "too_big":
                self.close_connection = True
                status = 400 if exc.kind == "bad_length" else 0
                self.inbox._record(self.command, path, query, headers, b"", status, exc.kind)
                raise
            body, too_big = b"", True

        def record(status: int, error: str | None) -> None:
            self.inbox._record(self.command, path, query, headers, body, status, error)

        if self.command not in ("GET", "POST"):
            record(405, "method not allowed")
            self._send_json(405, Refusal(405, "method_not_allowed", "use GET or POST").body())
            return
        if self.inbox.faults.latency:
            self.inbox._stopping.wait(self.inbox.faults.latency)
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
            self.inbox._store.add(result.events)
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
            self.inbox._stopping.wait(action.seconds)

    # -- everything else -----------------------------------------------------------------------

    def _other(self, route: str, query: dict[str, str]) -> None:
        body = self._read_body(_RECORDING_LIMIT if route == "/s" else _OTHER_LIMIT)
        method = "GET" if self.command == "HEAD" else self.command
        if route.startswith("/array/") and method == "GET":
            if route.endswith("/config.js"):
                script = b"/* posthog-web inbox: no remote config */\n"
                self._respond(200, script, "application/javascript; charset=utf-8")
            elif route.endswith("/config"):
                self._send_json(200, _REMOTE_CONFIG)
            else:
                self._not_found()
        elif route in ("/flags", "/decide") and method in ("GET", "POST"):
            self._send_json(200, FLAGS_BODY)
        elif route == "/s" and method in ("GET", "POST"):
            self._send_json(200, {"status": "Ok"})
        elif route.startswith("/api/"):
            self._api(route, method, query, body)
        elif route in ("/", "/persons", "/sessions") and method == "GET":
            self._page(route, query)
        else:
            self._not_found()

    def _api(self, route: str, method: str, query: dict[str, str], body: bytes) -> None:
        inbox = self.inbox
        if route == "/api/health" and method == "GET":
            self._send_json(200, {"ok": True})
        elif route == "/api/events" and method == "GET":
            raw_limit = query.get("limit") or None
            if raw_limit is not None and not raw_limit.isdigit():
                self._send_json(400, {"error": "limit must be a non-negative integer"})
                return
            limit = None if raw_limit is None else int(raw_limit)
            events = inbox._store.events(query.get("event"), query.get("distinct_id"), limit)
            self._send_json(200, {"events": events})
        elif route == "/api/events" and method == "DELETE":
            inbox.clear()
            self._send_json(200, {"ok": True})
        elif route == "/api/persons" and method == "GET":
            persons, refusals = merge_view(inbox._store.events())
            self._send_json(200, {"persons": persons, "refusals": refusals})
        elif route == "/api/sessions" and method == "GET":
            self._send_json(200, {"sessions": group_sessions(inbox._store.events())})
        elif route == "/api/requests" and method == "GET":
            self._send_json(200, {"requests": [_summary(r) for r in inbox.requests]})
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

    def _page(self, route: str, query: dict[str, str]) -> None:
        store = self.inbox._store
        if route == "/persons":
            html = page.render_persons(*merge_view(store.events()))
        elif route == "/sessions":
            html = page.render_sessions(group_sessions(store.events()))
        else:
            event, distinct_id = query.get("event") or None, query.get("distinct_id") or None
            rows = store.rows(event, distinct_id, _PAGE_LIMIT)
            html = page.render_events(
                rows, event=event, distinct_id=distinct_id, total=store.count()
            )
        self._respond(200, html.encode("utf-8"), "text/html; charset=utf-8")

    def _not_found(self) -> None:
        self._send_json(404, {"type": "not_found", "code": "not_found", "status": 404})

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _read_body(self, limit: int) -> bytes:
        """Read the request body; raise _BodyProblem("too_big" | "bad_length" | "incomplete")."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        if not raw_length.strip().isdigit():
            raise _BodyProblem("bad_length")
        length = int(raw_length)
        if length > limit:
            if length <= _MAX_DRAIN:
                self._exact(length, discard=True)
            raise _BodyProblem("too_big")
        return self._exact(length)

    def _exact(self, length: int, discard: bool = False) -> bytes:
        chunks, remaining = [], length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                raise _BodyProblem("incomplete")
            remaining -= len(chunk)
            if not discard:
                chunks.append(chunk)
        return b"".join(chunks)

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            if not size_line.endswith(b"\n"):
                raise _BodyProblem("incomplete")
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                raise _BodyProblem("bad_length") from None
            if size == 0:
                # Skip trailers up to the blank line.
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > limit:
                raise _BodyProblem("too_big")
            chunks.append(self._exact(size))
            self.rfile.readline(8)

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


class InboxServer:
    """A local PostHog-compatible capture server that stores what it accepts.

    Args:
        host: the interface to bind (keep it on loopback).
        port: the port to bind; 0 picks a free one (read it back from ``port`` or ``url``).
        db_path: a SQLite file (WAL mode; events survive restarts), or None for memory.

    Use ``start()``/``stop()`` or ``with InboxServer() as inbox:``.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, db_path: str | Path | None = None
    ) -> None:
        self.host = host
        self._port = port
        self.faults = FaultInjector()
        self._store = EventStore(db_path)
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def start(self) -> InboxServer:
        """Bind and serve in a daemon thread; return self."""
        if self._httpd is not None or self._stopped:
            raise RuntimeError("an InboxServer can be started only once")
        self._httpd = _HTTPServer((self.host, self._port), self)
        self._port = self._httpd.server_port
        self._thread = threading.Thread(
            target=self._httpd.serve,
            args=(self._stopping,),
            name="posthog-web-inbox",
            daemon=True,
        )
        self._thread.start()
        logger.info("inbox: listening on %s", self.url)
        return self

    @property
    def port(self) -> int:
        """The bound port (the requested one before ``start()``)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:8010``: the host to give a PostHog client."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def stop(self) -> None:
        """Stop serving, close every connection (releasing hung requests) and the database.

        Idempotent.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        if self._httpd is not None and self._thread is not None:
            self._httpd.wake()
            self._thread.join(_STOP_TIMEOUT)
            self._httpd.server_close()
            self._httpd.close_connections(_STOP_TIMEOUT)
        self._store.close()

    def __enter__(self) -> InboxServer:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def events(
        self, event: str | None = None, distinct_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Accepted events in arrival order, optionally only one event name and/or distinct id."""
        return self._store.events(event, distinct_id)

    def wait_for_events(
        self, count: int, timeout: float = 10.0, event: str | None = None
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` (matching) events are stored and return them all.

        Raises AssertionError naming what was received when ``timeout`` seconds pass first.
        """
        return self._store.wait_for(count, timeout, event)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request to a capture path (except CORS preflights), in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget every stored event and recorded request (faults stay armed)."""
        with self._lock:
            self._requests.clear()
        self._store.clear()

    def persons(self) -> list[dict[str, Any]]:
        """PostHog's person merge rules applied to the stored events, in order."""
        return merge_view(self._store.events())[0]

    def merge_refusals(self) -> list[dict[str, Any]]:
        """The merges PostHog would refuse (and person events it would drop), with reasons."""
        return merge_view(self._store.events())[1]

    def sessions(self) -> list[dict[str, Any]]:
        """Page views grouped by ``$session_id``, flagged when the id is not a UUIDv7."""
        return group_sessions(self._store.events())

    def _record(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        status: int,
        error: str | None,
    ) -> None:
        request = RecordedRequest(method, path, query, headers, body, status, error)
        with self._lock:
            self._requests.append(request)
