"""Django's request as a :class:`~posthog_web.web.RequestView`: headers, host, cookies.

The host is validated as Django would (``ALLOWED_HOSTS``), and remembered per Host
header value until a host setting changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from posthog_web.web import RequestView

__all__ = ["request_view", "validated_host"]

_META_KEYS: dict[str, str] = {}


def _meta_key(name: str) -> str:
    """The ``request.META`` key of a header name (``user-agent`` -> ``HTTP_USER_AGENT``)."""
    key = _META_KEYS.get(name)
    if key is None:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if len(_META_KEYS) < 512:  # bounded: user code may look up any name
            _META_KEYS[name] = key
    return key


class _MetaHeaders(Mapping[str, str]):
    """Lower-case header names over ``request.META``, looked up lazily (no copy per request)."""

    __slots__ = ("_meta",)

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self._meta = meta

    def __getitem__(self, name: str) -> str:
        value = self._meta[_meta_key(name)]
        if not isinstance(value, str):
            raise KeyError(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        # Most lookups are for headers a request does not have: no KeyError round trip.
        value = self._meta.get(_meta_key(name))
        return value if isinstance(value, str) else default

    def __iter__(self) -> Iterator[str]:
        for key in self._meta:
            if key.startswith("HTTP_"):
                yield key[5:].lower().replace("_", "-")
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                yield key.lower().replace("_", "-")

    def __len__(self) -> int:
        return sum(1 for _ in self)


# Validated hosts by the request values get_host() reads: validating against
# ALLOWED_HOSTS costs more than the rest of the request view.
_hosts: dict[tuple[object, ...], str | DisallowedHost] = {}
_HOSTS_SIZE = 1024
_MAX_CACHED_HOST = 255
_HOST_SETTINGS = frozenset(
    {
        "ALLOWED_HOSTS",
        "DEBUG",
        "USE_X_FORWARDED_HOST",
        "USE_X_FORWARDED_PORT",
        "SECURE_PROXY_SSL_HEADER",
    }
)


def validated_host(request: HttpRequest, scheme: str) -> str:
    """``request.get_host()``, remembered for the same Host headers and settings."""
    if type(request).get_host is not HttpRequest.get_host:
        return request.get_host()  # a subclass with its own rules
    meta = request.META
    http_host = meta.get("HTTP_HOST")
    key = (
        http_host,
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
        meta.get("HTTP_X_FORWARDED_PORT"),
        scheme,
    )
    host = _hosts.get(key)
    if host is None:
        try:
            host = request.get_host()
        except DisallowedHost as exc:
            host = exc
        if len(str(http_host)) <= _MAX_CACHED_HOST:
            if len(_hosts) >= _HOSTS_SIZE:
                _hosts.clear()
            _hosts[key] = host
    if isinstance(host, DisallowedHost):
        raise DisallowedHost(*host.args)
    return host


@receiver(setting_changed)
def _forget_hosts(*, setting: str, **kwargs: Any) -> None:
    if setting in _HOST_SETTINGS:
        _hosts.clear()


def request_view(request: HttpRequest) -> RequestView:
    """The core's view of a Django request."""
    meta = request.META
    scheme = request.scheme or "http"
    return RequestView(
        method=(request.method or "GET").upper(),
        scheme=scheme,
        host=validated_host(request, scheme).lower(),
        path=request.path,
        query_string=meta.get("QUERY_STRING", ""),
        headers=_MetaHeaders(meta),
        cookies=request.COOKIES,
        client_ip=meta.get("REMOTE_ADDR") or None,
    )
