"""Request headers by lower-case name over a WSGI environ or Django's ``request.META``.

Both keep headers CGI-style (``HTTP_USER_AGENT``, ``CONTENT_TYPE``); the view reads them
in place, so a request costs no copy of its headers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["EnvironHeaders", "environ_key"]

_KEYS: dict[str, str] = {}
_UNPREFIXED = ("CONTENT_TYPE", "CONTENT_LENGTH")


def environ_key(name: str) -> str:
    """The environ key of a header name (``user-agent`` -> ``HTTP_USER_AGENT``)."""
    key = _KEYS.get(name)
    if key is None:
        key = name.upper().replace("-", "_")
        if key not in _UNPREFIXED:
            key = "HTTP_" + key
        if len(_KEYS) < 512:  # bounded: user code may look up any name
            _KEYS[name] = key
    return key


class EnvironHeaders(Mapping[str, str]):
    """Lower-case header names over an environ, looked up lazily (no copy per request)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, Any]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        value = self._environ.get(environ_key(name))
        if not isinstance(value, str):
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        # Most lookups are for headers a request does not have: no KeyError round trip.
        value = self._environ.get(environ_key(name))
        return value if isinstance(value, str) else default

    def __iter__(self) -> Iterator[str]:
        for key in list(self._environ):
            if key.startswith("HTTP_"):
                yield key[5:].lower().replace("_", "-")
            elif key in _UNPREFIXED:
                yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)
