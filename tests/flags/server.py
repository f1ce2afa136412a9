"""A small PostHog stand-in for the flags tests (stdlib, 127.0.0.1, a free port).

Serves ``GET /flags/definitions`` (Bearer check, ETag / 304), ``POST /flags/`` (v2
records from ``remote``, honouring ``flag_keys_to_evaluate``) and ``POST /batch/``
(events recorded). Knobs: ``status`` (force an answer per route), ``delay`` (seconds
before answering, bounded), ``quota``, ``errors``. Every request is recorded.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "phx_flags_test_secret"
TOKEN = "phc_flags_test_token"
MAX_DELAY = 10.0


class FlagsServer:
    """Start with :meth:`start`, stop with :meth:`stop`; state is plain attributes."""

    def __init__(self) -> None:
        self.definitions: dict[str, Any] = {"flags": [], "group_type_mapping": {}, "cohorts": {}}
        self.remote: dict[str, dict[str, Any]] = {}
        self.status: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.quota = False
        self.errors = False
        self.requests: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FlagsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def etag(self) -> str:
        digest = hashlib.sha1(json.dumps(self.definitions, sort_keys=True).encode()).hexdigest()
        return f'"{digest[:16]}"'

    def made(self, route: str) -> list[dict[str, Any]]:
        """The recorded requests to ``route`` ("definitions", "flags" or "batch")."""
        with self.lock:
            return [r for r in self.requests if r["route"] == route]

    def wait_for(self, route: str, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait (bounded) until ``count`` requests reached ``route``."""
        deadline = time.monotonic() + timeout
        while len(self.made(route)) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.made(route)

    def flags_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.quota:
            return {
                "flags": {},
                "quotaLimited": ["feature_flags"],
                "errorsWhileComputingFlags": False,
            }
        keys = body.get("flag_keys_to_evaluate")
        records = {k: {"key": k, **v} for k, v in self.remote.items() if keys is None or k in keys}
        return {
            "flags": records,
            "errorsWhileComputingFlags": self.errors,
            "requestId": "req-1",
            "evaluatedAt": 1764640000000,
        }


def _handler(server: FlagsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _record(self, route: str, body: Any) -> None:
            with server.lock:
                server.requests.append(
                    {"route": route, "path": self.path, "headers": dict(self.headers), "json": body}
                )

        def _answer(
            self, route: str, status: int, body: Any, headers: dict[str, str] | None = None
        ) -> None:
            time.sleep(min(server.delay.get(route, 0.0), MAX_DELAY))
            status = server.status.get(route, status)
            data = b"" if body is None or status == 304 else json.dumps(body).encode()
            try:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up waiting

        def do_GET(self) -> None:
            if not self.path.startswith("/flags/definitions"):
                return self._answer("other", 404, {"detail": "not found"})
            self._record("definitions", None)
            if self.headers.get("Authorization") != f"Bearer {SECRET}":
                return self._answer("definitions", 401, {"detail": "invalid token"})
            etag = server.etag()
            if self.headers.get("If-None-Match") == etag:
                return self._answer("definitions", 304, None, {"ETag": etag})
            return self._answer("definitions", 200, server.definitions, {"ETag": etag})

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            body = json.loads(raw) if raw else None
            if self.path.startswith("/flags"):
                self._record("flags", body)
                return self._answer("flags", 200, server.flags_answer(body or {}))
            if self.path.startswith("/batch"):
                self._record("batch", body)
                with server.lock:
                    server.events.extend(body.get("batch", []))
                return self._answer("batch", 200, {"status": 1})
            return self._answer("other", 404, {"detail": "not found"})

    return Handler
