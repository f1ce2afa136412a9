"""What the adapter changes on a response: private cache headers, ``Set-Cookie``."""

from __future__ import annotations

from typing import Any

from posthog_web.web import SetCookie
from posthog_web.web.caching import private_cache_headers
from posthog_web.web.headers import set_cookie_value

__all__ = ["private_headers", "set_cookie_header"]


def private_headers(headers: Any) -> list[Any]:
    """``headers`` with Cache-Control and Vary made private, in place (appended if absent)."""
    kept: list[Any] = []
    found: dict[bytes, list[str]] = {b"cache-control": [], b"vary": []}
    where: dict[bytes, int] = {}
    for name, value in headers:
        lowered = bytes(name).lower()
        values = found.get(lowered)
        if values is None:
            kept.append((name, value))
            continue
        values.append(bytes(value).decode("latin-1"))
        if lowered not in where:
            where[lowered] = len(kept)
            kept.append(None)  # its place, filled below
    cache_control, vary = private_cache_headers(
        ", ".join(found[b"cache-control"]), ", ".join(found[b"vary"])
    )
    for name, value in ((b"cache-control", cache_control), (b"vary", vary)):
        header = (name, value.encode("latin-1"))
        if name in where:
            kept[where[name]] = header
        else:
            kept.append(header)
    return kept


def set_cookie_header(cookie: SetCookie) -> tuple[bytes, bytes]:
    return b"set-cookie", set_cookie_value(cookie).encode("latin-1")
