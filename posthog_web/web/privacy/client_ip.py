"""The visitor's address for ``$ip``: trusted proxies, ``X-Forwarded-For``, anonymizing."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from posthog_web.events import PROP_IP
from posthog_web.web.request import RequestView

PROP_GEOIP_DISABLE = "$geoip_disable"


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
