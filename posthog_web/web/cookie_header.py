"""The ``Cookie`` request header, parsed lazily: :class:`LazyCookies`.

For adapters that get the raw header (ASGI, WSGI) rather than the framework's parsed
cookies.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["LazyCookies", "parse_cookie_header"]


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
