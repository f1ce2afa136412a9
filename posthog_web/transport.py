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
    """The default transport: ``requests`` with connection reuse, one session per thread."""

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
        return session

    def _settings(self, url: str) -> dict[str, Any]:
        settings = self._environment.get(url)
        if settings is None:
            with requests.Session() as probe:
                settings = dict(probe.merge_environment_settings(url, {}, None, None, None))
            self._environment[url] = settings
        return settings

    def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        try:
            answer = self._session().post(
                url,
                data=body,
                headers=dict(headers),
                timeout=timeout,
                allow_redirects=False,
                **self._settings(url),
            )
        except requests.RequestException as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        # The body is not needed; reading it lets the connection go back to the pool.
        answer.content  # noqa: B018
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
