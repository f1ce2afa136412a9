"""Server-side sessions: a UUIDv7 ``$session_id`` kept in a small signed cookie.

Used only when a request carries no live posthog-js session (its cookie or the
``X-POSTHOG-SESSION-ID`` header win). The rules are posthog-js's (``sessionid.ts``): a
new session after ``idle_timeout`` seconds without activity or 24 hours after its start,
and the start is the UUIDv7's time part, which is what PostHog's sessions table reads
(posthog-ingestion.md §5.4 and §6.2).

The session has its own cookie rather than a field in the anonymous-id cookie: it lives
for minutes, not a year, it exists for logged-in users too, and rewriting it must not
rewrite the identity cookie. It is rewritten only for a new session or when its stored
last activity is ``refresh`` seconds old, so most responses set no cookie; the price is
that a session may end up to ``refresh`` seconds before the idle timeout.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache

from posthog_web.events import is_uuid7, uuid7_at, uuid7_time_ms
from posthog_web.web.identity import CookieSigner

__all__ = ["MAX_SESSION_SECONDS", "ServerSession", "SessionCookie"]

#: posthog-js (and PostHog's sessions table) end a session 24 hours after it started.
MAX_SESSION_SECONDS = 24 * 3600
_VERSION = "1"
_PURPOSE = b"session\x00"
# Browser and server clocks differ; a cookie a little "in the future" is still current.
_CLOCK_SKEW_MS = 60 * 1000
_MAX_COOKIE_LENGTH = 128
# Verified cookie values: a visitor sends the same one for up to a minute, and checking the
# signature is most of the cost of a session on the request path.
_CACHE_SIZE = 4096


@dataclass(slots=True, frozen=True)
class ServerSession:
    """A server session: its UUIDv7 id and its last activity (Unix seconds) as stored."""

    session_id: str
    last_activity: int

    @property
    def start_ms(self) -> int:
        """When the session started (Unix milliseconds): the id's time part."""
        return uuid7_time_ms(self.session_id)


class SessionCookie:
    """Reads, rotates and writes the server-side session cookie.

    Args:
        signer: the :class:`~posthog_web.web.identity.CookieSigner` of the anonymous-id cookie.
        idle_timeout: seconds without activity after which a new session starts.
        refresh: the stored last activity is rewritten at most once per this many seconds.
    """

    def __init__(self, signer: CookieSigner, *, idle_timeout: int, refresh: int = 60) -> None:
        if idle_timeout <= 0 or refresh <= 0:
            raise ValueError("idle_timeout and refresh must be positive numbers of seconds")
        self._signer = signer
        self.idle_timeout = idle_timeout
        self.refresh = refresh
        #: The cookie's Max-Age: the browser forgets a session that went idle by itself.
        self.max_age = min(idle_timeout + refresh, MAX_SESSION_SECONDS)
        self._verified = lru_cache(maxsize=_CACHE_SIZE)(self._verify)

    def dumps(self, session: ServerSession) -> str:
        """The signed cookie value for ``session``."""
        body = f"{_VERSION}.{session.session_id}.{session.last_activity}"
        return f"{body}.{self._signer.sign(_PURPOSE, body)}"

    def loads(self, raw: str | None) -> ServerSession | None:
        """Decode a cookie value; None when it is missing, malformed or not signed by us."""
        # Non-ASCII can never be ours, and hmac.compare_digest refuses it (TypeError).
        if not raw or len(raw) > _MAX_COOKIE_LENGTH or not raw.isascii():
            return None
        return self._verified(raw)

    def _verify(self, raw: str) -> ServerSession | None:
        body, _, sig = raw.rpartition(".")
        if not hmac.compare_digest(sig, self._signer.sign(_PURPOSE, body)):
            return None
        version, _, rest = body.partition(".")
        session_id, _, last = rest.partition(".")
        if version != _VERSION or not is_uuid7(session_id) or not last.isdigit():
            return None
        return ServerSession(session_id.lower(), int(last))

    def is_live(self, session: ServerSession, now_ms: int) -> bool:
        """Whether ``session`` is still current at ``now_ms`` by posthog-js's rules."""
        last_ms = session.last_activity * 1000
        start_ms = session.start_ms
        if last_ms > now_ms + _CLOCK_SKEW_MS or start_ms > now_ms + _CLOCK_SKEW_MS:
            return False
        if now_ms - last_ms > self.idle_timeout * 1000:
            return False
        return now_ms - start_ms < MAX_SESSION_SECONDS * 1000

    def resume(self, raw: str | None, now_ms: int) -> tuple[str, ServerSession | None]:
        """The session id for a request at ``now_ms`` and the session to write, if any.

        Continues the cookie's session while it is live (writing it again only when its
        last activity is ``refresh`` seconds old); otherwise starts a new one.
        """
        session = self.loads(raw)
        if session is not None and self.is_live(session, now_ms):
            now_s = now_ms // 1000
            if now_s - session.last_activity >= self.refresh:
                return session.session_id, ServerSession(session.session_id, now_s)
            return session.session_id, None
        new = self.start(now_ms)
        return new.session_id, new

    @staticmethod
    def start(now_ms: int) -> ServerSession:
        """A new session starting at ``now_ms``."""
        return ServerSession(uuid7_at(now_ms), now_ms // 1000)
