"""What may leave the server: masked URLs, capped values, the client IP and consent.

Everything here is compiled once, when the tracker is built; per request it costs a
few dictionary lookups and, only for URLs with a query string, one split. The threat
model and what stops each threat is in docs/security.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping, MutableMapping, Sequence
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote_plus

from posthog_web.events import MAX_EVENT_BYTES, PROP_IP, encode_json
from posthog_web.web.request import RequestView

__all__ = [
    "DEFAULT_MASKED_QUERY_PARAMS",
    "MASK",
    "MAX_PROPERTIES_BYTES",
    "MAX_URL_LENGTH",
    "AliasLedger",
    "ClientIPResolver",
    "ConsentRules",
    "PrivacyPolicy",
    "URLMasker",
    "add_ip",
    "anonymize_ip",
    "cap_text",
    "check_cookie_attributes",
    "check_cookie_name",
    "check_privacy_options",
    "check_properties_size",
    "parse_address",
    "scrub_properties",
]

PROP_GEOIP_DISABLE = "$geoip_disable"
PROP_COOKIELESS_MODE = "$cookieless_mode"

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


# --- the client IP --------------------------------------------------------------------

IPMode = Literal["full", "anonymize", "off"]
IP_MODES: tuple[str, ...] = ("full", "anonymize", "off")
#: ``trusted_proxies`` entry trusting every peer.
TRUST_ALL = "*"
#: ``trusted_proxies`` entry trusting requests without a peer address (a Unix socket).
TRUST_UNIX = "unix"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_PEER_CACHE_SIZE = 8192
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# Peers and proxy hops repeat, and parsing is the costly part; bounded against churn.
@lru_cache(maxsize=8192)
def parse_address(value: str) -> _Address | None:
    """An IP address from a peer or ``X-Forwarded-For`` entry (port allowed); None if invalid."""
    value = value.strip()
    if not value or len(value) > 64:
        return None
    if value[0] == "[":
        end = value.find("]")
        if end < 0:
            return None
        value = value[1:end]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def anonymize_ip(address: _Address) -> str:
    """IPv4 with the last octet zeroed; IPv6 with the last 80 bits zeroed (a /48 remains)."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFF00))
    return str(ipaddress.IPv6Address(int(address) & ~((1 << 80) - 1)))


def parse_trusted_proxies(entries: Sequence[str]) -> tuple[tuple[_Network, ...], bool, bool]:
    """Parse ``trusted_proxies``: (networks, trust every peer, trust Unix sockets)."""
    networks: list[_Network] = []
    trust_all = trust_unix = False
    for entry in entries:
        text = entry.strip()
        if text == TRUST_ALL:
            trust_all = True
        elif text.lower() == TRUST_UNIX:
            trust_unix = True
        else:
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address, a CIDR range, "
                    f"{TRUST_ALL!r} or {TRUST_UNIX!r}"
                ) from None
    return tuple(networks), trust_all, trust_unix


class ClientIPResolver:
    """The visitor's address: the peer, or the right-most untrusted ``X-Forwarded-For`` hop.

    ``X-Forwarded-For`` is read only when the peer is a trusted proxy. Walking it from
    the right, trusted proxies are skipped; the first other hop is the client. A hop
    that is not an IP address stops the walk (nothing left of it can be trusted) and
    the address is unknown. When every hop is trusted, the left-most one is used.

    Args:
        trusted_proxies: addresses and CIDR ranges of your proxies, ``"*"`` for every
            peer, ``"unix"`` for requests without a peer address (a Unix socket).
        mode: ``"full"``, ``"anonymize"`` or ``"off"`` (no address at all).
    """

    def __init__(self, trusted_proxies: Sequence[str] = (), mode: IPMode = "full") -> None:
        if mode not in IP_MODES:
            raise ValueError(f"ip_mode must be 'full', 'anonymize' or 'off', not {mode!r}")
        networks, self._trust_all, self._trust_unix = parse_trusted_proxies(trusted_proxies)
        self._v4 = tuple(n for n in networks if n.version == 4)
        self._v6 = tuple(n for n in networks if n.version == 6)
        self._any_trust = bool(networks) or self._trust_all or self._trust_unix
        self.mode = mode
        # Peers repeat, and formatting an address costs more than parsing it.
        self._peer_ip = lru_cache(maxsize=_PEER_CACHE_SIZE)(self._peer_ip_uncached)

    def _trusted(self, address: _Address) -> bool:
        if self._trust_all:
            return True
        networks = self._v4 if address.version == 4 else self._v6
        return any(address in network for network in networks)

    def client_address(self, request: RequestView) -> _Address | None:
        """The client's address, before the mode is applied."""
        peer_text = request.client_ip
        peer = parse_address(peer_text) if peer_text else None
        if not self._any_trust:
            return peer
        if peer is None:
            if peer_text or not self._trust_unix:
                return None
        elif not self._trusted(peer):
            return peer
        forwarded = request.headers.get("x-forwarded-for")
        if not forwarded:
            return peer
        hops = forwarded.split(",")
        if len(hops) > 64:  # far more proxies than any real chain
            return None
        chosen: _Address | None = peer
        for hop in reversed(hops):
            if not hop.strip():
                continue
            address = parse_address(hop)
            if address is None:
                return None
            chosen = address
            if not self._trusted(address):
                return address
        return chosen

    def resolve(self, request: RequestView) -> str | None:
        """``$ip`` for ``request``: None when unknown or when the mode is ``"off"``."""
        if self.mode == "off":
            return None
        if not self._any_trust:
            peer = request.client_ip
            return self._peer_ip(peer) if peer else None
        return self._format(self.client_address(request))

    def _format(self, address: _Address | None) -> str | None:
        if address is None:
            return None
        if self.mode == "anonymize":
            return anonymize_ip(address)
        return str(address)

    def _peer_ip_uncached(self, peer: str) -> str | None:
        return self._format(parse_address(peer))


def add_ip(properties: dict[str, Any], ip: str | None) -> None:
    """Set ``$ip``; without one, ``$geoip_disable`` so PostHog does not locate the server."""
    if ip:
        properties[PROP_IP] = ip
    else:
        properties[PROP_GEOIP_DISABLE] = True


# --- consent --------------------------------------------------------------------------


class ConsentRules:
    """Browser privacy signals that mean "do not track me".

    Args:
        respect_gpc: honour ``Sec-GPC: 1`` (Global Privacy Control).
        respect_dnt: honour ``DNT: 1`` (Do Not Track).
    """

    def __init__(self, *, respect_gpc: bool = True, respect_dnt: bool = False) -> None:
        self._headers = tuple(
            name for name, on in (("sec-gpc", respect_gpc), ("dnt", respect_dnt)) if on
        )

    def opted_out(self, request: RequestView) -> bool:
        """True when ``request`` carries a signal this configuration honours."""
        headers = request.headers
        for name in self._headers:
            value = headers.get(name)
            if value is not None and value.strip() == "1":
                return True
        return False


# --- cross-user alias guard -----------------------------------------------------------

_LEDGER_SIZE = 10_000


class AliasLedger:
    """Remembers, per process, which user each anonymous id was aliased into.

    The anonymous cookie already carries its link, but a copied or crafted cookie (or a
    posthog-js cookie naming someone else's anonymous id) does not; this refuses to
    alias one anonymous id into a second user while the process remembers the first.
    Bounded (least recently used entries are forgotten); stores digests, not ids.
    """

    def __init__(self, size: int = _LEDGER_SIZE) -> None:
        self._links: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    @staticmethod
    def _digest(value: str) -> bytes:
        return hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=12).digest()

    def claim(self, anon_id: str, user_id: str) -> bool:
        """Record ``anon_id`` → ``user_id``; False if it already went to another user."""
        anon, user = self._digest(anon_id), self._digest(user_id)
        with self._lock:
            known = self._links.get(anon)
            if known is not None and known != user:
                return False
            self._links[anon] = user
            self._links.move_to_end(anon)
            while len(self._links) > self._size:
                self._links.popitem(last=False)
        return True


# --- configuration checks -------------------------------------------------------------

# RFC 6265 cookie-name (an HTTP token) and a domain without separators or whitespace.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_DOMAIN = re.compile(r"\.?[0-9A-Za-z](?:[0-9A-Za-z.\-]*[0-9A-Za-z])?")


def check_cookie_name(field: str, name: object) -> None:
    """Refuse a cookie name (option ``field``) that is not an RFC 6265 token."""
    if not isinstance(name, str) or not _COOKIE_NAME.fullmatch(name):
        raise ValueError(
            f"{field}={name!r} must be a cookie token (letters, digits and !#$%&'*+-.^_`|~ only)"
        )


def check_cookie_attributes(name: str, domain: str | None) -> None:
    """Refuse a cookie name or domain that could break or inject a ``Set-Cookie`` header."""
    check_cookie_name("anonymous_cookie_name", name)
    if domain is not None and not _COOKIE_DOMAIN.fullmatch(domain):
        raise ValueError(f"cookie_domain={domain!r} must be a host name such as '.example.com'")


# --- the tracker's privacy options ----------------------------------------------------

CookielessMode = Literal["off", "server_hash", "per_request"]
COOKIELESS_MODES: tuple[str, ...] = ("off", "server_hash", "per_request")

_SEQUENCE_OPTIONS = ("masked_query_params", "kept_query_params", "trusted_proxies")
_BOOL_OPTIONS = ("query_allowlist", "respect_gpc", "respect_dnt")


def check_privacy_options(options: Any) -> None:
    """Validate (and turn into tuples) the privacy fields of a ``TrackerOptions``."""
    for name in _SEQUENCE_OPTIONS:
        value = getattr(options, name)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list or tuple of str, not {type(value).__name__}")
        for item in value:
            if not isinstance(item, str):
                raise TypeError(f"{name} entries must be str, not {type(item).__name__}")
        object.__setattr__(options, name, tuple(value))
    for name in _BOOL_OPTIONS:
        if not isinstance(getattr(options, name), bool):
            raise TypeError(f"{name} must be True or False")
    if options.ip_mode not in IP_MODES:
        raise ValueError(f"ip_mode must be 'full', 'anonymize' or 'off', not {options.ip_mode!r}")
    if options.cookieless_mode not in COOKIELESS_MODES:
        raise ValueError(
            "cookieless_mode must be 'off', 'server_hash' or 'per_request', "
            f"not {options.cookieless_mode!r}"
        )
    if options.cookieless_mode == "server_hash" and options.ip_mode == "off":
        raise ValueError(
            "cookieless_mode='server_hash' needs the visitor's $ip (PostHog hashes it into the "
            "daily id); use ip_mode 'full' or 'anonymize', or cookieless_mode='per_request'"
        )
    parse_trusted_proxies(options.trusted_proxies)
    check_cookie_attributes(options.anonymous_cookie_name, options.cookie_domain)


class PrivacyPolicy:
    """The compiled privacy options of one tracker.

    Args:
        options: a ``TrackerOptions`` (read by attribute name).
        always_kept: query parameters never masked (the campaign parameters).
    """

    def __init__(self, options: Any, always_kept: Collection[str]) -> None:
        self.masker = URLMasker(
            masked=options.masked_query_params,
            kept=options.kept_query_params,
            allowlist=options.query_allowlist,
            always_kept=always_kept,
        )
        self.ip = ClientIPResolver(options.trusted_proxies, options.ip_mode)
        self.consent = ConsentRules(
            respect_gpc=options.respect_gpc, respect_dnt=options.respect_dnt
        )
        self.cookieless: CookielessMode = options.cookieless_mode
        self.ledger = AliasLedger()

    def scrub(self, properties: MutableMapping[str, Any]) -> None:
        """Mask URLs and cap header-derived values in an event's properties."""
        scrub_properties(properties, self.masker)
