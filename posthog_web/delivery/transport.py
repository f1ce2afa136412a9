"""The HTTP seam: a small Transport protocol, the requests-based transport and a recorder.

Only the sender thread (or, in sync mode, the calling thread) uses a transport, and
each thread gets its own ``requests.Session``: sessions are not thread-safe.
"""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from posthog_web.events import LIB_NAME, LIB_VERSION

USER_AGENT = f"{LIB_NAME}/{LIB_VERSION}"


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out, DNS...)."""


@dataclass(frozen=True, slots=True)
class Response:
    """The part of an HTTP answer the delivery engine needs."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Sends one request body to PostHog; raises :class:`TransportError` on no answer."""

    def send(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response: ...

    def close(self) -> None: ...


class RequestsTransport:
    """The default transport: ``requests`` with connection reuse, one session per thread.

    Each request is a copy of a request prepared once per URL and headers, handed to the
    session's adapter: ``Session.post`` would rebuild and merge the same headers, hooks,
    cookies and environment settings on every call (a third of a POST's CPU). Proxy
    and CA bundle settings from the environment are still honoured, read once per URL.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._environment: dict[str, dict[str, Any]] = {}

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Retries belong to the delivery engine alone: no second retry layer here.
            adapter = requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=2)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # The environment (proxies, CA bundle) is read once per URL by _settings(), not
            # on every request: that costs a scan of os.environ and two stat() calls.
            session.trust_env = False
            self._local.session = session
            self._local.prepared = {}
        return session

    def _settings(self, url: str) -> dict[str, Any]:
        settings = self._environment.get(url)
        if settings is None:
            with requests.Session() as probe:
                merged = probe.merge_environment_settings(url, {}, None, None, None)
            settings = {key: merged[key] for key in ("proxies", "verify", "cert")}
            self._environment[url] = settings
        return settings

    def _prepare(self, url: str, body: bytes, headers: Mapping[str, str]) -> _Prepared:
        session = self._session()
        key = (url, tuple(headers.items()))
        prepared: dict[tuple[str, tuple[tuple[str, str], ...]], _Prepared] = self._local.prepared
        template = prepared.get(key)
        if template is None:
            request = requests.Request("POST", url, data=b"", headers=dict(headers))
            template = _Prepared(
                session.prepare_request(request), session.get_adapter(url), self._settings(url)
            )
            prepared[key] = template
        copy = template.request.copy()
        copy.body = body
        copy.headers["Content-Length"] = str(len(body))
        return _Prepared(copy, template.adapter, template.settings)

    def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        request = self._prepare(url, body, headers)
        try:
            answer = request.adapter.send(request.request, timeout=timeout, **request.settings)
            # The body is not needed; reading it lets the connection go back to the pool.
            answer.content  # noqa: B018
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        answer.close()
        return Response(answer.status_code, answer.headers)

    def close(self) -> None:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    def reset_after_fork(self) -> None:
        """Forget the parent's sessions without closing their shared sockets."""
        self._local = threading.local()


@dataclass(frozen=True, slots=True)
class _Prepared:
    request: requests.PreparedRequest
    adapter: requests.adapters.BaseAdapter
    settings: dict[str, Any]


class RecorderTransport:
    """An in-memory transport for tests: records every batch and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        payload = json.loads(body)
        with self._lock:
            self.requests.append({"url": url, "headers": dict(headers), "json": payload})
        return Response(self.status)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event of every recorded batch, in the order sent."""
        with self._lock:
            return [event for request in self.requests for event in request["json"]["batch"]]

    def close(self) -> None:
        pass
