"""What may leave the server: masked URLs, capped values, the client IP and consent.

One module per job: ``masking`` (URLs and header values), ``client_ip`` (``$ip`` behind
trusted proxies), ``consent`` (GPC, DNT), ``ledger`` (the cross-user alias guard) and
``policy`` (the options' checks and :class:`PrivacyPolicy`, compiled once per tracker).
The threat model and what stops each threat is in docs/security.md.
"""

from __future__ import annotations

from posthog_web.web.privacy.client_ip import (
    IP_MODES,
    PROP_GEOIP_DISABLE,
    TRUST_ALL,
    TRUST_UNIX,
    ClientIPResolver,
    IPMode,
    add_ip,
    anonymize_ip,
    parse_address,
    parse_trusted_proxies,
)
from posthog_web.web.privacy.consent import ConsentRules
from posthog_web.web.privacy.ledger import AliasLedger
from posthog_web.web.privacy.masking import (
    DEFAULT_MASKED_QUERY_PARAMS,
    MASK,
    MAX_HEADER_VALUE_LENGTH,
    MAX_PROPERTIES_BYTES,
    MAX_URL_LENGTH,
    SECRET_NAME_FRAGMENTS,
    URLMasker,
    cap_text,
    check_properties_size,
    scrub_properties,
)
from posthog_web.web.privacy.policy import (
    COOKIELESS_MODES,
    PROP_COOKIELESS_MODE,
    CookielessMode,
    PrivacyPolicy,
    check_cookie_attributes,
    check_cookie_name,
    check_privacy_options,
)

__all__ = [
    "COOKIELESS_MODES",
    "DEFAULT_MASKED_QUERY_PARAMS",
    "IP_MODES",
    "MASK",
    "MAX_HEADER_VALUE_LENGTH",
    "MAX_PROPERTIES_BYTES",
    "MAX_URL_LENGTH",
    "PROP_COOKIELESS_MODE",
    "PROP_GEOIP_DISABLE",
    "SECRET_NAME_FRAGMENTS",
    "TRUST_ALL",
    "TRUST_UNIX",
    "AliasLedger",
    "ClientIPResolver",
    "ConsentRules",
    "CookielessMode",
    "IPMode",
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
    "parse_trusted_proxies",
    "scrub_properties",
]
