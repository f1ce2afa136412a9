"""The tracker's privacy options: their checks and :class:`PrivacyPolicy`, compiled once."""

from __future__ import annotations

import re
from collections.abc import Collection, MutableMapping, Sequence
from typing import Any, Literal

from posthog_web.web.privacy.client_ip import IP_MODES, ClientIPResolver, parse_trusted_proxies
from posthog_web.web.privacy.consent import ConsentRules
from posthog_web.web.privacy.ledger import AliasLedger
from posthog_web.web.privacy.masking import URLMasker, scrub_properties

PROP_COOKIELESS_MODE = "$cookieless_mode"

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
