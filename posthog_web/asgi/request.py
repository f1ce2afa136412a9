"""The ASGI scope as a :class:`~posthog_web.web.RequestView`: headers, host, lazy cookies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from posthog_web.asgi.types import Scope
from posthog_web.web import RequestView

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


class LazyCookies(Mapping[str, str]):
    """The request's cookies, parsed on first use; a name absent from the header is not."""

    __slots__ = ("_header", "_parsed")

    def __init__(self, header: str) -> None:
        self._header = header
        self._parsed: dict[str, str] | None = None

    def _cookies(self) -> dict[str, str]:
        parsed = self._parsed
        if parsed is None:
            parsed = self._parsed = parse_cookie_header(self._header)
        return parsed

    def get(self, name: str, default: Any = None) -> Any:
        if self._parsed is None:
            header = self._header
            at = header.find(name)
            if at < 0:
                return default
            if header.find(name, at + 1) < 0:
                # The name occurs once: read its cookie in place, as the full parse would.
                start = header.rfind(";", 0, at) + 1
                end = header.find(";", at)
                chunk = header[start:] if end < 0 else header[start:end]
                key, sep, value = chunk.partition("=")
                if not sep or key.strip() != name:
                    return default
                return _cookie_value(value)
        return self._cookies().get(name, default)

    def __contains__(self, name: object) -> bool:
        if self._parsed is None and isinstance(name, str) and name not in self._header:
            return False
        return name in self._cookies()

    def __getitem__(self, name: str) -> str:
        return self._cookies()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cookies())

    def __len__(self) -> int:
        return len(self._cookies())

    def __repr__(self) -> str:
        return repr(self._cookies())


def parse_cookie_header(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the lenient way browsers send it (values left encoded)."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        cookies.setdefault(name, _cookie_value(value))
    return cookies


def _cookie_value(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value
