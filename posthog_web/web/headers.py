"""Response headers as text: ``Set-Cookie`` values and private cache headers.

For adapters that write raw headers themselves (WSGI, ASGI) rather than through a
framework's response object.
"""

from __future__ import annotations

from posthog_web.web.caching import private_cache_headers
from posthog_web.web.request import SetCookie

__all__ = ["private_header_list", "set_cookie_value"]


def set_cookie_value(cookie: SetCookie) -> str:
    """The ``Set-Cookie`` header value for ``cookie`` (an expired one when ``max_age <= 0``)."""
    parts = [f"{cookie.name}={cookie.value}", f"Max-Age={cookie.max_age}", f"Path={cookie.path}"]
    if cookie.max_age <= 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    if cookie.domain:
        parts.append(f"Domain={cookie.domain}")
    if cookie.secure:
        parts.append("Secure")
    if cookie.httponly:
        parts.append("HttpOnly")
    if cookie.samesite:
        parts.append(f"SameSite={cookie.samesite}")
    return "; ".join(parts)


def private_header_list(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A copy of ``headers`` with Cache-Control and Vary made private (in place, or appended)."""
    kept: list[tuple[str, str] | None] = []
    found: dict[str, list[str]] = {"cache-control": [], "vary": []}
    where: dict[str, int] = {}
    for name, value in headers:
        lowered = name.lower()
        values = found.get(lowered)
        if values is None:
            kept.append((name, value))
            continue
        values.append(value)
        if lowered not in where:
            where[lowered] = len(kept)
            kept.append(None)  # its place, filled below
    cache_control, vary = private_cache_headers(
        ", ".join(found["cache-control"]), ", ".join(found["vary"])
    )
    for name, value in (("Cache-Control", cache_control), ("Vary", vary)):
        if name.lower() in where:
            kept[where[name.lower()]] = (name, value)
        else:
            kept.append((name, value))
    return [header for header in kept if header is not None]
