"""The flags' own small HTTP client: one ``requests.Session`` per thread and process."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from typing import Any

import requests

from posthog_web.events import LIB_NAME, LIB_VERSION

USER_AGENT = f"{LIB_NAME}/{LIB_VERSION}"


class HTTPFailure(Exception):
    """No usable answer: refused, reset, timed out, or not JSON. ``kind`` names it."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, ETag and the JSON body (None without one)."""

    status: int
    etag: str | None
    body: Any


class HTTPClient:
    """GETs and POSTs JSON; sessions are per thread and rebuilt in a forked child."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None or self._local.pid != os.getpid():
            session = requests.Session()
            # One attempt: the flags never retry within a call (flags_timeout bounds it).
            adapter = requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=2)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            self._local.session, self._local.pid = session, os.getpid()
        return session

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Answer:
        """One attempt within ``timeout`` seconds; raises HTTPFailure."""
        data = None
        all_headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body, separators=(",", ":"), default=str).encode()
            all_headers["Content-Type"] = "application/json"
        try:
            answer = self._session().request(
                method, url, data=data, headers=all_headers, timeout=timeout
            )
            content = answer.content
        except requests.Timeout as exc:
            raise HTTPFailure("timeout", type(exc).__name__) from None
        except requests.ConnectionError as exc:
            raise HTTPFailure("connection_error", type(exc).__name__) from None
        except requests.RequestException as exc:
            raise HTTPFailure("unknown_error", type(exc).__name__) from None
        parsed = None
        if content and answer.status_code != 304:
            try:
                parsed = json.loads(content)
            except ValueError:
                if answer.status_code == 200:
                    raise HTTPFailure("unknown_error", "the answer is not JSON") from None
        return Answer(answer.status_code, answer.headers.get("ETag"), parsed)
