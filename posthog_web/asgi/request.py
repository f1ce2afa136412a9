"""The ASGI scope as a :class:`~posthog_web.web.RequestView`: headers, host, lazy cookies."""

from __future__ import annotations

from typing import Any

from posthog_web.asgi.types import Scope
from posthog_web.web import RequestView
from posthog_web.web.cookie_header import LazyCookies, parse_cookie_header

__all__ = ["LazyCookies", "parse_cookie_header", "request_view"]


def request_view(scope: Scope) -> RequestView:
    """Build the framework-neutral view of an ASGI HTTP scope."""
    raw = scope.get("headers") or ()
    if not isinstance(raw, list):
        raw = list(raw)
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
    if len(headers) != len(raw):
        headers = _joined_headers(raw)
    host = headers.get("host") or _server_host(scope)
    client = scope.get("client")
    return RequestView(
        method=str(scope.get("method", "GET")).upper(),
        scheme=str(scope.get("scheme", "http")),
        host=host.lower(),
        path=scope.get("path") or "/",
        query_string=(scope.get("query_string") or b"").decode("latin-1"),
        headers=headers,
        cookies=LazyCookies(headers.get("cookie", "")),
        client_ip=str(client[0]) if client else None,
    )


def _joined_headers(raw: list[Any]) -> dict[str, str]:
    # A repeated header: its values joined as one (cookies with "; ", as browsers do).
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in headers:
            value = headers[name] + ("; " if name == "cookie" else ", ") + value
        headers[name] = value
    return headers


def _server_host(scope: Scope) -> str:
    server = scope.get("server")
    if not server:
        return ""
    host, port = server[0], server[1]
    default = 443 if scope.get("scheme") in ("https", "wss") else 80
    return str(host) if port in (None, default) else f"{host}:{port}"
