"""The framework-neutral view of one HTTP request and its response.

Each integration (Django, ASGI) builds a :class:`RequestView` once per request and a
:class:`ResponseView` once the response is known; every rule after that (page view or
not, properties, identity, cookies) lives in the core and reads only these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["RequestView", "ResponseView", "SetCookie"]

# The characters Django's ``escape_uri_path`` leaves alone: a decoded path goes back to
# the form a browser shows in ``location.href``.
_PATH_SAFE = "/:@&+$,-_.!~*'()%;="
# A path made only of characters quote() keeps needs no quote() (it costs 4x this check).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/:@&+$,\-_.!~*'()%;=]*")


@dataclass(slots=True)
class RequestView:
    """What the core needs to know about one request, built cheaply by an integration.

    Args:
        method: the HTTP method, upper-case.
        scheme: ``"http"`` or ``"https"``.
        host: the Host header, lower-case, with the port when it is not the default one.
        path: the URL path as the framework decoded it, e.g. ``"/products/42/"``.
        query_string: the raw query string, without ``?``.
        headers: header names in lower case mapped to their values (any ``Mapping``;
            a lazy view over the framework's own headers is fine).
        cookies: cookie name mapped to its raw value, as the framework parsed it.
        client_ip: the socket peer address, if known.
    """

    method: str
    scheme: str
    host: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    cookies: Mapping[str, str]
    client_ip: str | None = None

    @property
    def url(self) -> str:
        """The absolute URL of the request, as ``location.href`` would show it."""
        path = self.path
        if _PLAIN_PATH.fullmatch(path) is None:
            path = quote(path, safe=_PATH_SAFE)
        url = f"{self.scheme}://{self.host}{path}"
        if self.query_string:
            url = f"{url}?{self.query_string}"
        return url

    @property
    def is_secure(self) -> bool:
        """Whether the request came over HTTPS."""
        return self.scheme == "https"


@dataclass(slots=True)
class ResponseView:
    """What the core needs to know about a response.

    Args:
        status: the HTTP status code.
        content_type: the Content-Type header, e.g. ``"text/html; charset=utf-8"``.
        streaming: True when the body is streamed (the core never reads a stream).
        body: the whole body when the framework holds it whole (a non-streaming
            response), else None; the core reads only its first few KB, for the
            page's ``<title>`` (:func:`posthog_web.web.titles.html_title`).
        content_encoding: the Content-Encoding header when the body is encoded (a
            compressing middleware inside this package's); None for a plain body.
    """

    status: int
    content_type: str | None
    streaming: bool = False
    body: bytes | None = None
    content_encoding: str | None = None


@dataclass(slots=True, frozen=True)
class SetCookie:
    """A cookie the integration must set on the response (delete it when ``max_age == 0``)."""

    name: str
    value: str
    max_age: int
    path: str = "/"
    secure: bool = False
    httponly: bool = True
    samesite: str = "Lax"
    domain: str | None = None
