"""The package's own first-party anonymous cookie, signed: :class:`CookieSigner`.

Wire facts: docs/posthog-ingestion.md §3.3 (why an alias is never repeated into a
second user on a shared device).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from posthog_web.events import (
    is_uuid,
    uuid7,
)

__all__ = ["MAX_RETIRED", "AnonymousCookie", "CookieSigner"]

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
