"""What may leave the server in a URL or a header-derived value: masked and capped.

Compiled once, when the tracker is built; per request it costs a few dictionary lookups
and, only for URLs with a query string, one split. docs/security.md has the threat model.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, MutableMapping
from functools import lru_cache
from typing import Any
from urllib.parse import unquote_plus

from posthog_web.events import MAX_EVENT_BYTES, encode_json

#: What a masked query parameter's value becomes (posthog-js's own placeholder).
MASK = "<masked>"

#: Query parameter names (compared lower-case, after percent-decoding) whose values are
#: never sent. Names that contain one of :data:`SECRET_NAME_FRAGMENTS`, or that end in
#: ``_key``/``-key``, are masked as well.
DEFAULT_MASKED_QUERY_PARAMS: frozenset[str] = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "state",
        "nonce",
        "ticket",
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "client_secret",
        "key",
        "api_key",
        "apikey",
        "auth",
        "authorization",
        "signature",
        "sig",
        "session",
        "sessionid",
        "session_id",
        "sid",
        "jwt",
        "otp",
        "email",
        "e-mail",
        "phone",
        "ssn",
    }
)

#: Substrings that make any query parameter name secret.
SECRET_NAME_FRAGMENTS: tuple[str, ...] = (
    "token",
    "secret",
    "password",
    "passwd",
    "credential",
    "signature",
    "apikey",
    "api_key",
    "api-key",
    "email",
)

#: Longest URL sent (after masking); longer ones are cut.
MAX_URL_LENGTH = 4000
#: Longest value derived from a request header (other than URLs; the user agent is cut
#: like posthog-js's in pageviews.raw_user_agent).
MAX_HEADER_VALUE_LENGTH = 1000
#: The largest encoded ``properties`` the request helper accepts: the event cap minus
#: room for the request context (URLs, user agent, ids), so an event built by the
#: helper is never dropped later for its size.
MAX_PROPERTIES_BYTES = MAX_EVENT_BYTES - 64 * 1024

# Reserved properties that hold a URL: masked wherever they appear, also in $set_once.
_URL_PROPERTIES = (
    "$current_url",
    "$referrer",
    "$initial_current_url",
    "$initial_referrer",
    "$session_entry_url",
    "$session_entry_referrer",
    "$entry_current_url",
    "$entry_referrer",
)
# Reserved properties derived from request headers, with their caps.
_CAPPED_PROPERTIES = {
    "$host": MAX_HEADER_VALUE_LENGTH,
    "$pathname": MAX_URL_LENGTH,
    "$referring_domain": MAX_HEADER_VALUE_LENGTH,
    "$browser_language": MAX_HEADER_VALUE_LENGTH,
    "$browser_language_prefix": MAX_HEADER_VALUE_LENGTH,
    "$session_entry_host": MAX_HEADER_VALUE_LENGTH,
    "$session_entry_pathname": MAX_URL_LENGTH,
}
_NAME_SEPARATORS = re.compile(r"[\[\].]")
_NAME_CACHE_SIZE = 4096


def cap_text(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` characters."""
    return value if len(value) <= limit else value[:limit]


class URLMasker:
    """Masks secret-looking query parameters and drops fragments and credentials.

    Args:
        masked: more parameter names to mask (case-insensitive), added to
            :data:`DEFAULT_MASKED_QUERY_PARAMS`.
        kept: names never masked (case-insensitive); in allow-list mode, the only
            names kept.
        allowlist: mask every parameter not in ``kept`` or ``always_kept``.
        always_kept: exact names kept in every mode (the campaign parameters and click
            ids, so attribution works).
    """

    def __init__(
        self,
        *,
        masked: Collection[str] = (),
        kept: Collection[str] = (),
        allowlist: bool = False,
        always_kept: Collection[str] = (),
    ) -> None:
        self._masked = DEFAULT_MASKED_QUERY_PARAMS | {name.lower() for name in masked}
        self._kept = frozenset(name.lower() for name in kept)
        self._allowlist = allowlist
        self._always_kept = frozenset(always_kept)
        # Names repeat across requests; bounded, so random names cannot grow it.
        self.is_secret = lru_cache(maxsize=_NAME_CACHE_SIZE)(self._is_secret)

    def _is_secret(self, raw_name: str) -> bool:
        if raw_name in self._always_kept:
            return False
        name = unquote_plus(raw_name) if "%" in raw_name or "+" in raw_name else raw_name
        name = name.strip().lower()
        if name in self._kept:
            return False
        if self._allowlist:
            return True
        if name in self._masked or any(fragment in name for fragment in SECRET_NAME_FRAGMENTS):
            return True
        for part in _NAME_SEPARATORS.split(name):
            if part in self._masked or part.endswith(("_key", "-key")):
                return True
        return False

    def mask(self, url: str) -> str:
        """``url`` without its fragment and credentials, secret parameters masked, capped."""
        # Cutting first is safe: a name cut short has no value left to leak.
        url = cap_text(url, MAX_URL_LENGTH)
        hash_at = url.find("#")
        if hash_at >= 0:
            url = url[:hash_at]
        query_at = url.find("?")
        base = url if query_at < 0 else url[:query_at]
        if "@" in base:
            base = _without_userinfo(base)
        if query_at < 0:
            return base
        query = url[query_at + 1 :]
        if not query:
            return base + "?"
        is_secret = self.is_secret
        parts = []
        for part in query.split("&"):
            name, sep, _ = part.partition("=")
            if not name or not is_secret(name):
                parts.append(part)
            elif sep:
                parts.append(f"{name}={MASK}")
            else:
                # A bare ``?<value>``: in allow-list mode the name itself is unknown data.
                parts.append(MASK if self._allowlist else part)
        return cap_text(f"{base}?{'&'.join(parts)}", MAX_URL_LENGTH)


def _without_userinfo(url: str) -> str:
    scheme_end = url.find("://")
    if scheme_end < 0:
        return url
    start = scheme_end + 3
    end = url.find("/", start)
    at = url.rfind("@", start, len(url) if end < 0 else end)
    return url if at < 0 else url[:start] + url[at + 1 :]


def scrub_properties(properties: MutableMapping[str, Any], masker: URLMasker) -> None:
    """Mask the URLs and cap the header-derived values among PostHog's reserved properties.

    Also applied to ``$set`` and ``$set_once`` inside ``properties`` (``$initial_*``).
    """
    for key in _URL_PROPERTIES:
        value = properties.get(key)
        if isinstance(value, str):
            properties[key] = masker.mask(value)
    for key, limit in _CAPPED_PROPERTIES.items():
        value = properties.get(key)
        if isinstance(value, str) and len(value) > limit:
            properties[key] = value[:limit]
    for nested in ("$set", "$set_once"):
        inner = properties.get(nested)
        if isinstance(inner, dict):
            for key in _URL_PROPERTIES:
                value = inner.get(key)
                if isinstance(value, str):
                    inner[key] = masker.mask(value)


def check_properties_size(size: int, properties: Mapping[str, Any], field: str) -> None:
    """Refuse ``properties`` whose JSON is ``size`` bytes, when that is over the cap."""
    if size <= MAX_PROPERTIES_BYTES:
        return
    largest = max(properties, key=lambda key: len(encode_json(properties[key])))
    raise ValueError(
        f"{field} is {size} bytes as JSON; the request helper accepts at most "
        f"{MAX_PROPERTIES_BYTES} (PostHog drops events over {MAX_EVENT_BYTES}); "
        f"the largest is {field}[{largest!r}]"
    )
