"""Issue 13 in ASGI apps: the page's <title>, route names, naming without forcing, and
fetch metadata, for Starlette and for a plain ASGI app that is not Starlette."""

from __future__ import annotations

import asyncio
import html
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.inbox import InboxServer
from tests.asgi.helpers import Message, call, http_scope, pageviews, run

PAGES = {"/": "Datasette", "/fixtures": "fixtures &amp; friends", "/fixtures/facets": "facets"}
CHROME = b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36"
NAVIGATE = ((b"sec-fetch-dest", b"document"), (b"sec-fetch-mode", b"navigate"))
SKIPPED: dict[str, tuple[tuple[bytes, bytes], ...]] = {
    "curl": ((b"user-agent", b"curl/8.5.0"),),
    "googlebot": ((b"user-agent", b"Mozilla/5.0 (compatible; Googlebot/2.1)"),),
    "prefetch": (*NAVIGATE, (b"sec-purpose", b"prefetch")),
    "htmx": (*NAVIGATE, (b"hx-request", b"true")),
    "plain-fetch": ((b"sec-fetch-dest", b"empty"), (b"sec-fetch-mode", b"cors")),
    "iframe": ((b"sec-fetch-dest", b"iframe"), (b"sec-fetch-mode", b"navigate")),
}


def plain_app(*, name_pages: bool = False) -> Any:
    """A hand-written ASGI app (as Datasette is): its own routing, whole HTML bodies."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        title = PAGES.get(scope["path"])
        if title is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if name_pages:  # a hook naming every page (the helper is in the scope)
            scope["posthog_web"].pageview_properties(f"db: {title}", {"database": "fixtures"})
        body = f"<!doctype html><head><title>\n {title}\n</title></head><h1>x</h1>".encode()
        start = {"type": "http.response.start", "status": 200}
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def scope_for(path: str, *headers: tuple[bytes, bytes], method: str = "GET") -> dict[str, Any]:
    scope = http_scope(path, method=method, headers=((b"host", b"example.com"), *headers))
    # A browser's own User-Agent wins over the helper's default one.
    if any(name == b"user-agent" for name, _ in headers):
        scope["headers"] = [h for h in scope["headers"] if h[0] != b"user-agent" or h in headers]
    return scope


def test_a_plain_asgi_app_gets_the_html_title(client: Client, inbox: InboxServer) -> None:
    app = PostHogMiddleware(plain_app(), client=client, secret_key="s")
    for path in PAGES:
        run(call(app, scope_for(path, (b"user-agent", CHROME), *NAVIGATE)))
    views = pageviews(client, inbox)
    assert [v["properties"]["title"] for v in views] == [
        "Datasette",
        "fixtures & friends",
        "facets",
    ]
    for view in views:
        assert not {"route", "route_name", "view"} & set(view["properties"])


@pytest.mark.parametrize("how", sorted(SKIPPED))
def test_a_hook_naming_every_page_forces_no_page_view(
    client: Client, inbox: InboxServer, how: str
) -> None:
    app = PostHogMiddleware(plain_app(name_pages=True), client=client, secret_key="s")
    run(call(app, scope_for("/fixtures", *SKIPPED[how])))
    run(call(app, scope_for("/fixtures", (b"user-agent", CHROME), *NAVIGATE, method="HEAD")))
    run(call(app, scope_for("/fixtures", (b"user-agent", CHROME), *NAVIGATE)))  # counts
    [view] = pageviews(client, inbox)
    assert view["properties"]["title"] == "db: fixtures &amp; friends"  # the name, as given
    assert view["properties"]["database"] == "fixtures"


def test_a_stream_is_not_buffered_and_gets_no_title(client: Client, inbox: InboxServer) -> None:
    first_chunk_out = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<title>S</title>", "more_body": True})
        # The server must have the first chunk before the app sends the next one.
        await asyncio.wait_for(first_chunk_out.wait(), timeout=2)
        await send({"type": "http.response.body", "body": b"<p>rest</p>"})

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            first_chunk_out.set()

    wrapped = PostHogMiddleware(
        app, client=client, secret_key="s", record_pageview=lambda req, resp: True
    )

    async def go() -> list[Message]:
        first_chunk_out.clear()
        return await call(wrapped, scope_for("/s", *NAVIGATE), on_send=on_send)

    messages = run(go())
    assert [m.get("body") for m in messages[1:]] == [b"<title>S</title>", b"<p>rest</p>"]
    [view] = pageviews(client, inbox)
    assert "title" not in view["properties"]


async def serve(request: Request) -> Response:
    path = request.path_params["path"]
    title = html.escape({"": "Home", "breads/": "Breads & buns"}.get(path, "?"))
    return HTMLResponse(f"<!doctype html><title>{title}</title><p>{path}</p>")


def test_starlette_pages_sharing_one_route(client: Client, inbox: InboxServer) -> None:
    app = Starlette(routes=[Route("/{path:path}", serve, name="cms_serve")])
    app.add_middleware(PostHogMiddleware, client=client, secret_key="s")
    headers = {"user-agent": CHROME.decode(), "sec-fetch-dest": "document"}
    with TestClient(app, headers=headers) as http:
        http.get("/")
        http.get("/breads/")
        http.get("/breads/", headers={"sec-fetch-dest": "empty", "sec-fetch-mode": "cors"})
    home, breads = (v["properties"] for v in pageviews(client, inbox))
    assert (home["title"], breads["title"]) == ("Home", "Breads & buns")
    for props in (home, breads):
        assert props["route"] == "/{path:path}"
        assert props["route_name"] == "cms_serve"
        assert props["view"] == "tests.asgi.test_titles_and_naming.serve"


class User:
    is_authenticated = True

    def __init__(self, user_id: str) -> None:
        self.identity = user_id


def test_a_plain_asgi_app_sets_the_user_and_logs_out(client: Client, inbox: InboxServer) -> None:
    """docs/asgi.md "A plain ASGI app": scope["user"] set by the app, logout() via the scope."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        if scope["path"] == "/logout":
            scope["posthog_web"].logout()
        else:
            scope["user"] = User("user-7")
        headers = [(b"content-type", b"text/html")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"<title>Mine</title>"})

    wrapped = PostHogMiddleware(app, client=client, secret_key="s")
    run(call(wrapped, scope_for("/mine", *NAVIGATE)))
    messages = run(call(wrapped, scope_for("/logout", *NAVIGATE)))
    mine, after = pageviews(client, inbox)
    assert mine["distinct_id"] == "user-7"
    assert mine["properties"]["title"] == "Mine"
    assert after["distinct_id"] != "user-7"
    start = messages[0]
    assert any(k == b"set-cookie" and v.startswith(b"ph_web_id=") for k, v in start["headers"])


def test_a_page_compressed_inside_the_middleware_keeps_its_title(
    client: Client, inbox: InboxServer
) -> None:
    # GZipMiddleware added before PostHogMiddleware runs inside it: the body arrives
    # gzip-encoded, and its <title> is still read.
    async def page(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>Zipped &amp; read</title>" + "<p>x</p>" * 100)

    app = Starlette(
        routes=[Route("/zipped", page)],
        middleware=[
            Middleware(PostHogMiddleware, client=client, secret_key="s"),
            Middleware(GZipMiddleware, minimum_size=0),
        ],
    )
    scope = scope_for("/zipped", (b"user-agent", CHROME), (b"accept-encoding", b"gzip"), *NAVIGATE)
    messages = run(call(app, scope))
    start = next(m for m in messages if m["type"] == "http.response.start")
    assert (b"content-encoding", b"gzip") in start["headers"]
    (view,) = pageviews(client, inbox)
    assert view["properties"]["title"] == "Zipped & read"
