"""What posthog-js tells the server: its tracing headers, its cookie, its opt-out cookie.

Wire facts: docs/posthog-ingestion.md §5.1-5.2 (the posthog-js cookie and its session
rules) and §5.3 (tracing headers).
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

from posthog_web.events import (
    COOKIELESS_SENTINEL,
    MAX_DISTINCT_ID_LENGTH,
    is_illegal_distinct_id,
    is_uuid7,
)

__all__ = [
    "HEADER_DISTINCT_ID",
    "HEADER_SESSION_ID",
    "HEADER_WINDOW_ID",
    "OPT_OUT_COOKIE_PREFIX",
    "SESSION_MAX_LENGTH_MS",
    "PostHogCookie",
    "is_opt_out",
    "opt_out_cookie_name",
    "parse_posthog_cookie",
    "posthog_cookie_name",
    "sanitize_header",
    "usable_distinct_id",
]

HEADER_DISTINCT_ID = "x-posthog-distinct-id"
HEADER_SESSION_ID = "x-posthog-session-id"
HEADER_WINDOW_ID = "x-posthog-window-id"

_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f]")
_MAX_HEADER_LENGTH = 1000

SESSION_MAX_LENGTH_MS = 24 * 3600 * 1000
# Browser and server clocks disagree by seconds to minutes; a cookie written "in the
# future" by less than this is still the browser's current session.
_CLOCK_SKEW_MS = 5 * 60 * 1000
_MAX_COOKIE_LENGTH = 8192


def sanitize_header(value: object) -> str | None:
    """Clean a client-sent tracing header the way posthog-python and posthog-node do.

    Strings only; C0/C1 control characters removed; trimmed; at most 1000 characters;
    an empty result means the header is absent.
    """
    if not isinstance(value, str):
        return None
    cleaned = _CONTROL_CHARS.sub("", value).strip()[:_MAX_HEADER_LENGTH]
    return cleaned or None


def usable_distinct_id(value: str | None) -> str | None:
    """Return ``value`` if it can be sent as a distinct id (and merged), else None."""
    if not value or len(value) > MAX_DISTINCT_ID_LENGTH or is_illegal_distinct_id(value):
        return None
    return value


def posthog_cookie_name(api_key: str) -> str:
    """The name posthog-js gives its cookie for project ``api_key``: ``ph_<token>_posthog``."""
    token = api_key.replace("+", "PL").replace("/", "SL").replace("=", "EQ")
    return f"ph_{token}_posthog"


OPT_OUT_COOKIE_PREFIX = "__ph_opt_in_out_"
_OPT_OUT_VALUES = frozenset({"0", "false", "no"})


def opt_out_cookie_name(api_key: str) -> str:
    """posthog-js's consent cookie for project ``api_key``: ``__ph_opt_in_out_<token>``."""
    return OPT_OUT_COOKIE_PREFIX + api_key


def is_opt_out(value: str | None) -> bool:
    """Whether a consent cookie value means opted out (posthog-js's ``isNoLike``).

    ``posthog.opt_out_capturing()`` writes ``0``; ``1`` (opted in) or no cookie is not
    an opt-out.
    """
    return value is not None and unquote(value).strip().lower() in _OPT_OUT_VALUES


# Built per request: not frozen, as a frozen dataclass's __init__ costs twice as much.
@dataclass(slots=True)
class PostHogCookie:
    """The parts of a posthog-js cookie the server uses."""

    distinct_id: str | None  # None when missing, illegal or the cookieless sentinel
    identified: bool
    session_id: str | None  # None when absent or stale by posthog-js's own rules


def _unquote(raw: str) -> str:
    """``urllib.parse.unquote``, done in C for ASCII input.

    A posthog-js cookie has dozens of ``%XX`` escapes and comes with every request.
    With ``%`` turned into ``=`` they are quoted-printable escapes, which binascii
    decodes in one pass, ten times faster than ``unquote``'s pure-Python loop. That is
    exact only when every ``%`` starts a valid escape (each then shortens the text by
    two) and the text holds no ``=`` or line break of its own; otherwise, and for bytes
    that are not UTF-8, ``unquote``'s own rules decide.
    """
    if (
        raw.isascii()
        and "=" not in raw
        and "\n" not in raw
        and "\r" not in raw
        and raw.rstrip()[-1:] != "%"
    ):
        data = binascii.a2b_qp(raw.replace("%", "="))
        if len(data) == len(raw) - 2 * raw.count("%"):
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                pass
    return unquote(raw)


_JSON = json.JSONDecoder()


def _load_json(text: str) -> object:
    """``json.loads`` without its two whitespace scans when there is no whitespace."""
    try:
        data, end = _JSON.raw_decode(text)
    except ValueError:
        return json.loads(text)  # leading whitespace, or an error worth its message
    if end != len(text) and text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return data


def parse_posthog_cookie(
    raw: str | None, *, now_ms: int, idle_timeout_ms: int
) -> PostHogCookie | None:
    """Parse the value of a ``ph_<token>_posthog`` cookie; None when it is not usable.

    The value is percent-encoded JSON (``encodeURIComponent(JSON.stringify(...))``).
    A session is kept only while posthog-js itself would keep it: not idle for longer
    than ``idle_timeout_ms``, not older than 24 hours, not in the future, and a UUIDv7.
    """
    if not raw or len(raw) > _MAX_COOKIE_LENGTH:
        return None
    try:
        data = _load_json(_unquote(raw))
    except (ValueError, RecursionError):  # a few thousand "[" exhaust the parser's stack
        return None
    if not isinstance(data, dict):
        return None

    distinct_id = data.get("distinct_id")
    if not isinstance(distinct_id, str) or distinct_id == COOKIELESS_SENTINEL:
        distinct_id = None
    distinct_id = usable_distinct_id(distinct_id)
    state = data.get("$user_state")
    if state is None:
        # Older posthog-js: an id still equal to the device id was never identified.
        identified = distinct_id is not None and distinct_id != data.get("$device_id")
    else:
        identified = state == "identified"
    return PostHogCookie(
        distinct_id=distinct_id,
        identified=identified,
        session_id=_live_session(data.get("$sesid"), now_ms, idle_timeout_ms),
    )


def _live_session(sesid: object, now_ms: int, idle_timeout_ms: int) -> str | None:
    if not isinstance(sesid, list) or len(sesid) < 2:
        return None
    last_activity, session_id = sesid[0], sesid[1]
    start = sesid[2] if len(sesid) > 2 else last_activity
    if not (
        _is_ms(last_activity) and _is_ms(start) and isinstance(session_id, str)
    ) or not is_uuid7(session_id):
        return None
    assert isinstance(last_activity, int)
    assert isinstance(start, int)
    if last_activity > now_ms + _CLOCK_SKEW_MS or start > now_ms + _CLOCK_SKEW_MS:
        return None
    if now_ms - last_activity > idle_timeout_ms or now_ms - start > SESSION_MAX_LENGTH_MS:
        return None
    return session_id.lower()


def _is_ms(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
