"""The ASGI middleware needs only the core: no Starlette, FastAPI or Django (issue 13, item 8).

A plain ASGI app (as Datasette is) runs through it in a process where importing those
frameworks fails, as it would where only ``pip install posthog-web`` was done.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys

    class NoFrameworks:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("starlette", "fastapi", "django", "asgiref"):
                raise ImportError(f"{name} is not installed here")
            return None

    sys.meta_path.insert(0, NoFrameworks())

    from posthog_web import Client
    from posthog_web.asgi import PostHogMiddleware
    from posthog_web.web.snippet import posthog_snippet
    from posthog_web.delivery import RecorderTransport

    async def app(scope, receive, send):
        body = f"<head>{posthog_snippet()}</head>".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": body})

    transport = RecorderTransport()
    client = Client("phc_test", transport=transport, flush_interval=0.05)
    middleware = PostHogMiddleware(app, client=client, secret_key="s")
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/",
             "query_string": b"", "root_path": "",
             "headers": [(b"host", b"example.com"), (b"user-agent", b"Mozilla/5.0 Firefox/130.0")]}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(asyncio.wait_for(middleware(scope, receive, send), 5))
    assert client.flush(timeout=5)
    names = [name for name, _ in sent[0]["headers"]]
    assert b"set-cookie" in names, names
    assert b"bootstrap" in sent[1]["body"]
    events = [e["event"] for e in transport.events]
    assert events == ["$pageview"], events
    loaded = sorted(m for m in sys.modules
                    if m.split(".")[0] in ("starlette", "fastapi", "django", "asgiref"))
    assert not loaded, loaded
    client.shutdown(timeout=5)
    print("ok")
    """
)


def test_the_asgi_middleware_runs_without_any_framework() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
