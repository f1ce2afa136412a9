"""A request leaves nothing for the cycle collector (see tests/asgi/test_reference_cycles.py).

Django's own AuthenticationMiddleware makes every request a cycle (the lazy user's closure
holds the request), so this runs the middleware without it: what is left then is ours.
"""

from __future__ import annotations

import gc
import io
import sys
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler

from posthog_web import Client

pytestmark = pytest.mark.django_db


def _environ(path: str, method: str = "GET", cookie: str = "") -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_HOST": "testserver",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if cookie:
        environ["HTTP_COOKIE"] = cookie
    return environ


def test_requests_leave_no_cyclic_garbage(settings: Any) -> None:
    client = Client("phc_test", host="http://127.0.0.1:9")
    events: list[dict[str, Any]] = []
    client.enqueue = events.append  # type: ignore[assignment,method-assign]
    settings.POSTHOG_WEB = {"CLIENT": client}
    settings.MIDDLEWARE = ["posthog_web.django.PostHogMiddleware"]
    handler = WSGIHandler()
    requests = [
        ("/", ""),  # a first visit: id and session minted, cookies set
        ("/", "theme=dark"),
        ("/service/", "theme=dark"),  # a view capturing through request.posthog
        ("/api/", ""),
    ]
    statuses: list[str] = []

    def serve() -> None:
        for path, cookie in requests:
            body = handler(_environ(path, cookie=cookie), lambda s, h, e=None: statuses.append(s))
            body.close()

    try:
        serve()  # warm-up: imports, URL resolvers, caches
        gc.collect()
        gc.disable()
        serve()
        serve()
        garbage = gc.collect()
    finally:
        gc.enable()
    assert garbage == 0
    assert {status.split()[0] for status in statuses} == {"200"}
    assert [e["event"] for e in events].count("service_event") == 3
