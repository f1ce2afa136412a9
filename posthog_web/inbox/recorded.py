"""RecordedRequest: one capture request as the inbox saw and answered it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from posthog_web.inbox.decoding import decode_body
from posthog_web.inbox.validation import body_limit


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
    #: When the request was read, in seconds since the epoch (``time.time()``).
    received_at: float

    def decoded(self) -> Any:
        """The body decoded as capture would (gzip, base64, form); raises ValueError."""
        route = self.path.rstrip("/") or "/"
        raw = self.query.get("data", "").encode() if self.method == "GET" else self.body
        return decode_body(
            raw,
            query=self.query,
            content_type=self.headers.get("content-type"),
            content_encoding=self.headers.get("content-encoding"),
            limit=body_limit(route),
        )
