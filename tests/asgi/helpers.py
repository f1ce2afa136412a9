"""Test helpers: what the inbox received, and a driver for bare ASGI calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from posthog_web import Client
from posthog_web.inbox import InboxServer

BROWSER_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)
BROWSER = {"user-agent": BROWSER_UA}

Message = dict[str, Any]
ASGIApp = Callable[..., Awaitable[None]]


def sent(
    client: Client, inbox: InboxServer, event: str | None = None, distinct_id: str | None = None
) -> list[dict[str, Any]]:
    """Flush the client (bounded) and return what the inbox stored."""
    assert client.flush(timeout=10), "the client did not deliver within 10 s"
    return inbox.events(event, distinct_id)


def pageviews(client: Client, inbox: InboxServer) -> list[dict[str, Any]]:
    return sent(client, inbox, "$pageview")


def http_scope(
    path: str = "/",
    *,
    method: str = "GET",
    headers: Iterable[tuple[bytes, bytes]] = ((b"host", b"example.com"),),
    query_string: bytes = b"",
    **extra: Any,
) -> dict[str, Any]:
    """An HTTP scope as a server would build it."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [*headers, (b"user-agent", BROWSER_UA.encode())],
        "client": ("203.0.113.7", 51000),
        "server": ("example.com", 443),
    }
    scope.update(extra)
    return scope


async def call(
    app: ASGIApp,
    scope: dict[str, Any],
    incoming: Iterable[Message] = ({"type": "http.request", "body": b"", "more_body": False},),
    on_send: Callable[[Message], Awaitable[None]] | None = None,
) -> list[Message]:
    """Run one ASGI call and return the messages the app sent (bounded: 5 s)."""
    queue: asyncio.Queue[Message] = asyncio.Queue()
    for message in incoming:
        queue.put_nowait(message)
    out: list[Message] = []

    async def receive() -> Message:
        return await queue.get()

    async def send(message: Message) -> None:
        out.append(message)
        if on_send is not None:
            await on_send(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return out


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def set_cookies(messages: list[Message]) -> list[str]:
    """The Set-Cookie header values of the response start message."""
    start = next(m for m in messages if m["type"] == "http.response.start")
    return [v.decode("latin-1") for k, v in start.get("headers", []) if k == b"set-cookie"]
