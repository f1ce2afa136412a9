"""Django's request as a :class:`~posthog_web.web.RequestView`: headers, host, cookies.

The host is validated as Django would (``ALLOWED_HOSTS``), and remembered per Host
header value until a host setting changes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from posthog_web.web import RequestView
from posthog_web.web.environ_headers import EnvironHeaders

__all__ = ["request_view", "validated_host"]

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
        headers=EnvironHeaders(meta),
        cookies=request.COOKIES,
        client_ip=meta.get("REMOTE_ADDR") or None,
    )
