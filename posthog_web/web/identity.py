"""Who is this visitor: tracing headers, the posthog-js cookie, and our own anonymous cookie.

Wire facts: docs/posthog-ingestion.md §3 (illegal ids, merge hazards), §5.1-5.2 (the
posthog-js cookie and its session rules) and §5.3 (tracing headers).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import unquote

from posthog_web.events import (
    COOKIELESS_SENTINEL,
    MAX_DISTINCT_ID_LENGTH,
    is_illegal_distinct_id,
    is_uuid,
    is_uuid7,
    uuid7,
)

__all__ = [
    "HEADER_DISTINCT_ID",
    "HEADER_SESSION_ID",
    "HEADER_WINDOW_ID",
    "OPT_OUT_COOKIE_PREFIX",
    "AnonymousCookie",
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


# --- our own first-party anonymous cookie ------------------------------------------
#
# Value: "1.<anon id>.<linked anon tag>.<linked user tag>.<retired tags>.<signature>",
# or "2.<the same four>.<remembered user>.<identify tag>.<signature>" once a login was
# remembered or an $identify sent (version 1 stays what older releases read).
# The link remembers which user an anonymous id was aliased into, so the id is never
# aliased into a second user on a shared device (posthog-ingestion.md §3.3). Retired
# tags name ids that a logout rotated away; they are never used or aliased again.
# Tags and signature are truncated HMAC-SHA256 values, so they reveal no user id; the
# remembered user (base64url) is the one readable field, as a session cookie's user is.
# The identify tag binds the user id to a digest of the person properties last sent
# for it from this browser, so every worker knows what this browser already identified.

_VERSION = "1"
_VERSION_2 = "2"
# A remembered 200-character id (MAX_DISTINCT_ID_LENGTH) in UTF-8 and base64url,
# plus the rest, stays well under the 4096 bytes a browser keeps per cookie.
_MAX_OWN_COOKIE_LENGTH = 1400
_TAG_LENGTH = 11  # base64url of 8 bytes, unpadded
_SIG_LENGTH = 22  # base64url of 16 bytes, unpadded
MAX_RETIRED = 4


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(slots=True, frozen=True)
class AnonymousCookie:
    """The decoded anonymous cookie: our anonymous id and what it was linked to."""

    anon_id: str
    linked_anon: str = ""  # tag of the anonymous id that was aliased into a user
    linked_user: str = ""  # tag of that user
    retired: tuple[str, ...] = ()  # tags of ids a logout rotated away
    user: str = ""  # the user a login() remembered on this browser ("" for none)
    identify_tag: str = ""  # the user and person properties last identified from here


class CookieSigner:
    """Encodes, signs and checks :class:`AnonymousCookie` values with one secret.

    Args:
        secret: the HMAC key (Django: ``SECRET_KEY``). Without one the cookie is still
            written and read, but anyone could forge it.
    """

    def __init__(self, secret: str | bytes | None) -> None:
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        key = hashlib.sha256(b"posthog-web anonymous cookie\x00" + (secret or b"")).digest()
        # Keyed once: copying it skips the key setup that hmac.new() repeats per call.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def _mac(self, purpose: bytes, value: str, length: int) -> str:
        mac = self._keyed.copy()
        mac.update(purpose + value.encode("utf-8"))
        return _b64(mac.digest())[:length]

    def sign(self, purpose: bytes, value: str) -> str:
        """A signature of ``value`` for another of the package's cookies, named by ``purpose``."""
        return self._mac(b"x" + purpose, value, _SIG_LENGTH)

    def anon_tag(self, anon_id: str) -> str:
        """The tag stored in the cookie for an anonymous id."""
        return self._mac(b"a", anon_id, _TAG_LENGTH)

    def user_tag(self, distinct_id: str) -> str:
        """The tag stored in the cookie for a user's distinct id."""
        return self._mac(b"u", distinct_id, _TAG_LENGTH)

    def identify_tag(self, distinct_id: str, digest: bytes) -> str:
        """The tag of "``distinct_id`` was identified with properties of ``digest``"."""
        return self._mac(b"i", f"{distinct_id}\x00{digest.hex()}", _TAG_LENGTH)

    def dumps(self, cookie: AnonymousCookie) -> str:
        """Encode and sign ``cookie``."""
        fields = [
            _VERSION,
            cookie.anon_id,
            cookie.linked_anon,
            cookie.linked_user,
            "".join(cookie.retired[-MAX_RETIRED:]),
        ]
        if cookie.user or cookie.identify_tag:
            fields[0] = _VERSION_2
            fields += (_b64(cookie.user.encode("utf-8")), cookie.identify_tag)
        body = ".".join(fields)
        return f"{body}.{self._mac(b's', body, _SIG_LENGTH)}"

    def loads(self, raw: str | None) -> AnonymousCookie | None:
        """Decode ``raw``; None when it is missing, malformed or not signed by us."""
        # Non-ASCII can never be ours, and hmac.compare_digest refuses it (TypeError).
        if not raw or len(raw) > _MAX_OWN_COOKIE_LENGTH or not raw.isascii():
            return None
        body, _, sig = raw.rpartition(".")
        parts = body.split(".")
        if not (
            (len(parts) == 5 and parts[0] == _VERSION)
            or (len(parts) == 7 and parts[0] == _VERSION_2)
        ):
            return None
        if not hmac.compare_digest(sig, self._mac(b"s", body, _SIG_LENGTH)):
            return None
        anon_id, linked_anon, linked_user, retired = parts[1:5]
        if not is_uuid(anon_id) or len(retired) % _TAG_LENGTH:
            return None
        user = identify_tag = ""
        if len(parts) == 7:
            try:
                user = base64.urlsafe_b64decode(parts[5] + "=" * (-len(parts[5]) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            identify_tag = parts[6]
        tags = tuple(retired[i : i + _TAG_LENGTH] for i in range(0, len(retired), _TAG_LENGTH))
        return AnonymousCookie(anon_id.lower(), linked_anon, linked_user, tags, user, identify_tag)

    def new(self, retired: Sequence[str] = ()) -> AnonymousCookie:
        """A fresh cookie with a new UUIDv7 anonymous id."""
        return AnonymousCookie(uuid7(), retired=tuple(retired)[-MAX_RETIRED:])


# --- resolving the anonymous id and guarding merges ---------------------------------

SOURCE_HEADER = "header"
SOURCE_POSTHOG_JS = "posthog-js"
SOURCE_COOKIE = "cookie"
SOURCE_NEW = "new"


@dataclass(slots=True)
class AnonymousIdentity:
    """The browser's id for a visitor before any logged-in user is considered.

    ``anon_id`` is None when the request carried no usable id (one is minted on use).
    ``identified`` is True when the browser itself already identified the visitor
    (posthog-js ``$user_state == "identified"``, or a tracing header that is not a UUID),
    in which case the id is not anonymous and is never aliased.
    """

    anon_id: str | None
    source: str
    identified: bool = False


def resolve_anonymous(
    header_id: str | None,
    posthog_js: PostHogCookie | None,
    own: AnonymousCookie | None,
    signer: CookieSigner,
) -> AnonymousIdentity:
    """Pick the visitor's id: tracing header, then posthog-js cookie, then our cookie.

    An id that a logout retired on this browser is skipped, so the next person on a
    shared device does not continue the previous person's anonymous id.
    """
    retired = own.retired if own else ()
    js_id = posthog_js.distinct_id if posthog_js else None
    if header_id is not None and (not retired or signer.anon_tag(header_id) not in retired):
        if header_id == js_id and posthog_js is not None:
            return AnonymousIdentity(header_id, SOURCE_HEADER, posthog_js.identified)
        return AnonymousIdentity(header_id, SOURCE_HEADER, not is_uuid(header_id))
    if (
        posthog_js is not None
        and js_id is not None
        and (not retired or signer.anon_tag(js_id) not in retired)
    ):
        return AnonymousIdentity(js_id, SOURCE_POSTHOG_JS, posthog_js.identified)
    if own is not None:
        return AnonymousIdentity(own.anon_id, SOURCE_COOKIE)
    return AnonymousIdentity(None, SOURCE_NEW)


def plan_login(
    own: AnonymousCookie | None,
    anon_id: str | None,
    aliasable: bool,
    user_id: str,
    signer: CookieSigner,
) -> tuple[bool, AnonymousCookie | None]:
    """Decide whether logging ``user_id`` in may alias ``anon_id`` into it.

    Returns ``(alias, cookie)``: ``cookie`` is the anonymous cookie to write (with the
    new link), or None when it does not change. Never aliases an id that is not
    anonymous, that equals the user id, that a logout retired, or that this browser
    already linked to any user (a second user would otherwise join the first one's
    person: posthog-ingestion.md §3.3, posthog-js#148).
    """
    if anon_id is None or not aliasable or anon_id == user_id:
        return False, None
    anon_tag = signer.anon_tag(anon_id)
    if own is not None and (anon_tag in own.retired or own.linked_anon == anon_tag):
        return False, None
    base = own or signer.new()
    retired = base.retired
    if base.linked_anon and base.linked_anon not in retired:
        retired = (*retired, base.linked_anon)[-MAX_RETIRED:]
    return True, replace(
        base, linked_anon=anon_tag, linked_user=signer.user_tag(user_id), retired=retired
    )


def plan_logout(
    own: AnonymousCookie | None, current: AnonymousIdentity, signer: CookieSigner
) -> AnonymousCookie:
    """The cookie after a logout: a fresh anonymous id, the old ones retired.

    This is posthog-js ``reset()`` on the server side.
    """
    retired = list(own.retired) if own else []
    tags = [own.linked_anon] if own and own.linked_anon else []
    if current.anon_id is not None and current.source in (SOURCE_HEADER, SOURCE_POSTHOG_JS):
        tags.append(signer.anon_tag(current.anon_id))
    for tag in tags:
        if tag not in retired:
            retired.append(tag)
    return signer.new(retired)
