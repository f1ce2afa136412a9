"""The synthetic requests every variant answers: one page, an API call, an excluded path, a bot.

The same request, byte for byte, goes to Starlette (an ASGI scope) and Django (a WSGI
environ). Cookies carry a live posthog-js session, so they are rebuilt for each round.
"""

from __future__ import annotations

import io
import json
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from posthog_web.events import uuid7_at

API_KEY = "phc_bench"
SECRET = "bench-secret-not-secret"
HOST = "shop.example.com"
CLIENT_IP = "203.0.113.7"
CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = (
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html) Chrome/131.0.6778.204 Safari/537.36"
)

#: Scenario name -> (path, query string, user agent, sends cookies).
SCENARIOS: dict[str, tuple[str, str, str, bool]] = {
    # A returning visitor: posthog-js cookie with a live session, on a product page.
    "page": ("/products/42", "utm_source=newsletter&ref=1", CHROME, True),
    # A first visit: no cookie at all, so the anonymous id is minted and set.
    "page_new": ("/products/42", "", CHROME, False),
    "api": ("/api/products", "page=2", CHROME, True),
    "excluded": ("/internal/status", "", CHROME, True),
    "bot": ("/products/42", "", GOOGLEBOT, False),
}
PAGE_SCENARIOS = frozenset({"page", "page_new"})


def posthog_js_cookie(now_ms: int) -> tuple[str, str]:
    """The ``ph_<key>_posthog`` cookie of an anonymous posthog-js visitor mid-session."""
    device = uuid7_at(now_ms - 86_400_000)
    value = {
        "distinct_id": device,
        "$device_id": device,
        "$user_state": "anonymous",
        "$sesid": [now_ms - 5_000, uuid7_at(now_ms - 60_000), now_ms - 60_000],
        "$initial_person_info": {"r": "$direct", "u": f"https://{HOST}/"},
    }
    encoded = quote(json.dumps(value, separators=(",", ":")), safe="")
    return f"ph_{API_KEY}_posthog", encoded


@dataclass(frozen=True)
class Request:
    """One synthetic request, as header pairs."""

    name: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]


def build(name: str) -> Request:
    """The request of scenario ``name`` (fresh cookies)."""
    path, query, ua, cookies = SCENARIOS[name]
    headers = [
        ("host", HOST),
        ("user-agent", ua),
        ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br"),
        ("referer", "https://www.google.com/"),
    ]
    if cookies:
        js_name, js_value = posthog_js_cookie(time.time_ns() // 1_000_000)
        headers.append(("cookie", f"{js_name}={js_value}; theme=dark"))
    return Request(name, path, query, tuple(headers))


def asgi_scope(request: Request) -> dict[str, Any]:
    """An ASGI HTTP scope as uvicorn would build it (copy it per request)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": request.query.encode(),
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers],
        "client": (CLIENT_IP, 51234),
        "server": (HOST, 443),
    }


def wsgi_environ(request: Request) -> dict[str, Any]:
    """A WSGI environ as gunicorn would build it (copy it per request, new ``wsgi.input``)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": CLIENT_IP,
        "REMOTE_PORT": "51234",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


_DESCRIPTIONS = {
    "page": "HTML page, returning visitor with a posthog-js cookie",
    "page_new": "HTML page, first visit: no cookie",
    "api": "JSON API route",
    "excluded": "excluded path, HTML",
    "bot": "HTML page, Googlebot",
}


def describe(name: str) -> str:
    """What scenario ``name`` is, for the report."""
    return _DESCRIPTIONS[name]
