"""The client's settings checked at the call: the API key, the host, numbers and paths.

Each check raises a ``TypeError``/``ValueError`` naming the field, before any I/O.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_HOST",
    "EU_HOST",
    "US_HOST",
    "directory",
    "is_loopback",
    "non_negative_number",
    "normalize_host",
    "positive_int",
    "positive_number",
    "validate_api_key",
]

US_HOST = "https://us.i.posthog.com"
EU_HOST = "https://eu.i.posthog.com"
DEFAULT_HOST = US_HOST
_APP_HOSTS = {
    "app.posthog.com": US_HOST,
    "us.posthog.com": US_HOST,
    "eu.posthog.com": EU_HOST,
}


def validate_api_key(api_key: object) -> str:
    """Return the stripped project API key, or raise with what is wrong (never the key)."""
    hint = "use the project API key (phc_...) from your PostHog project settings"
    if not isinstance(api_key, str):
        raise TypeError(f"api_key must be a str, not {type(api_key).__name__}; {hint}")
    key = api_key.strip()
    if not key:
        raise ValueError(f"api_key is empty; {hint}")
    if key.startswith("phx_"):
        raise ValueError(f"api_key is a personal API key (phx_...), which PostHog refuses; {hint}")
    if len(key) > 64 or not key.isascii() or "\x00" in key:
        raise ValueError(f"api_key is not a valid key (at most 64 ASCII characters); {hint}")
    return key


def normalize_host(
    host: object,
    *,
    allow_insecure_http: bool = False,
    insecure_hint: str = "pass allow_insecure_http=True",
) -> str:
    """Return the ingestion base URL: cloud app hosts rewritten, no trailing slash.

    ``insecure_hint`` ends the error for an ``http://`` host that is not loopback (an
    integration names its own setting there).
    """
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    parts = urlsplit(host.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"host={host!r} must be an http(s) URL such as {US_HOST!r}")
    hostname = parts.hostname.lower()
    if hostname in _APP_HOSTS and parts.path in ("", "/"):
        return _APP_HOSTS[hostname]
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(hostname):
        raise ValueError(
            f"host={host!r} uses http: events would cross the network unencrypted; use "
            f"https, or {insecure_hint}"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback(hostname: str) -> bool:
    """Return True for localhost and loopback addresses."""
    if hostname == "localhost" or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def directory(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{field} must be a str, a path or None, not {type(value).__name__}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path.strip():
        raise ValueError(f"{field} must name a directory, not {value!r}")
    # Absolute now: a later chdir must not move it.
    return os.path.abspath(path)


def positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, not {value!r}")


def positive_number(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise ValueError(f"{name} must be a number > 0, not {value!r}")


def non_negative_number(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, not {value!r}")
