"""The middleware around hand-written ASGI apps (no Starlette), driven message by message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware, parse_cookie_header, request_view
from posthog_web.inbox import InboxServer
from posthog_web.web.helper import NoopHelper
from tests.asgi.helpers import (
    BROWSER_UA,
    Message,
    call,
    http_scope,
    pageviews,
    run,
    sent,
    set_cookies,
)

HTML = [(b"content-type", b"text/html; charset=utf-8")]


class Failure(Exception):
    pass


def html_app(body: bytes = b"<h1>hi</h1>", status: int = 200) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        helper = posthog_web.current()
        assert helper is scope["posthog_web"] is scope["state"]["posthog"]
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": list(HTML)})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def slow_client(inbox: InboxServer) -> Iterator[Client]:
    """Sends only when flushed (no timer, no batch size reached)."""
    posthog = Client("phc_test", host=inbox.url, flush_interval=3600, flush_at=1000)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


def test_bare_app_pageview(client: Client, inbox: InboxServer) -> None:
    app = PostHogMiddleware(html_app(), client=client, secret_key="s")
    messages = run(call(app, http_scope("/hello", query_string=b"a=1")))
    assert [m["type"] for m in messages] == ["http.response.start", "http.response.body"]
    assert messages[1]["body"] == b"<h1>hi</h1>"
    cookies = set_cookies(messages)  # the anonymous id and the server session
    assert [c.split("=")[0] for c in cookies] == ["ph_web_id", "ph_web_session"]
    assert all("Secure" in cookie for cookie in cookies)  # an https request
    (view,) = pageviews(client, inbox)
    props = view["properties"]
    assert props["$current_url"] == "https://example.com/hello?a=1"
    assert props["$ip"] == "203.0.113.7"
    assert "route" not in props
    assert "view" not in props
    assert posthog_web.current() is not None  # reset after the request
    assert isinstance(posthog_web.current(), NoopHelper)


def test_app_headers_are_not_mutated(client: Client) -> None:
    headers = list(HTML)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"x"})

    messages = run(call(PostHogMiddleware(app, client=client, secret_key="s"), http_scope()))
    assert headers == HTML  # the app's own list is never appended to
    assert len(set_cookies(messages)) == 2


def test_pageview_is_enqueued_after_the_last_body_message(slow_client: Client) -> None:
    queued_at_send: list[int] = []

    async def on_send(message: Message) -> None:
        if message["type"] == "http.response.body":
            queued_at_send.append(slow_client.stats()["queued"])

    app = PostHogMiddleware(html_app(), client=slow_client, secret_key="s")
    run(call(app, http_scope(), on_send=on_send))
    assert queued_at_send == [0]
    assert slow_client.stats()["queued"] == 1


def test_streaming_body_is_passed_on_chunk_by_chunk(client: Client, inbox: InboxServer) -> None:
    async def main() -> list[Message]:
        gate = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200, "headers": list(HTML)})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            # Only continues once the first chunk reached the server: nothing is buffered.
            await asyncio.wait_for(gate.wait(), timeout=2)
            await send({"type": "http.response.body", "body": b"second", "more_body": False})

        async def on_send(message: Message) -> None:
            if message.get("body") == b"first":
                gate.set()

        return await call(PostHogMiddleware(app, client=client), http_scope(), on_send=on_send)

    messages = run(main())
    assert [m.get("body") for m in messages[1:]] == [b"first", b"second"]
    assert pageviews(client, inbox) == []  # a streamed body is not a page view


def test_pathsend_and_trailers_end_the_response(client: Client, inbox: InboxServer) -> None:
    async def pathsend(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(HTML)})
        await send({"type": "http.response.pathsend", "path": "/srv/index.html"})

    async def trailers(scope: dict[str, Any], receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": list(HTML)}
        await send({**start, "trailers": True})
        await send({"type": "http.response.body", "body": b"<h1>t</h1>"})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": True})
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    run(call(PostHogMiddleware(pathsend, client=client), http_scope("/file")))
    messages = run(call(PostHogMiddleware(trailers, client=client), http_scope("/trailers")))
    assert [m["type"] for m in messages][-2:] == ["http.response.trailers"] * 2
    # A file sent by path counts as static; the trailers response is an ordinary page.
    assert [v["properties"]["$pathname"] for v in pageviews(client, inbox)] == ["/trailers"]


def test_zero_copy_send_ends_the_response(client: Client, inbox: InboxServer) -> None:
    # The zero copy send extension (Granian): the file's bytes in one message or several.
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(HTML)})
        await send({"type": "http.response.zerocopysend", "file": 7, "more_body": True})
        await send({"type": "http.response.zerocopysend", "file": 7, "count": 10})

    # A file is never a page view by the rules; the predicate says yes here, so the
    # page view shows that the response was seen to its end.
    def always(request: object, response: object) -> bool:
        return True

    middleware = PostHogMiddleware(app, client=client, record_pageview=always)
    messages = run(call(middleware, http_scope("/file")))
    assert [m["type"] for m in messages][1:] == ["http.response.zerocopysend"] * 2
    assert [v["properties"]["$pathname"] for v in pageviews(client, inbox)] == ["/file"]


def test_exception_is_reraised_unchanged(client: Client, inbox: InboxServer) -> None:
    failure = Failure("kaboom")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(HTML)})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise failure

    with pytest.raises(Failure) as caught:
        run(call(PostHogMiddleware(app, client=client), http_scope()))
    assert caught.value is failure
    assert pageviews(client, inbox) == []
    assert isinstance(posthog_web.current(), NoopHelper)


def test_websocket_and_other_scopes_pass_through_untouched(client: Client) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(dict(scope))
        await send({"type": "websocket.accept"})

    scope = {"type": "websocket", "path": "/ws", "headers": []}
    messages = run(
        call(PostHogMiddleware(app, client=client), scope, [{"type": "websocket.connect"}])
    )
    assert messages == [{"type": "websocket.accept"}]
    assert seen == [{"type": "websocket", "path": "/ws", "headers": []}]


def test_disabled_without_api_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        app = PostHogMiddleware(html_app())
    assert caplog.text.count("disabled") == 1
    assert app.tracker is None
    messages = run(call(app, http_scope()))
    assert messages[1]["body"] == b"<h1>hi</h1>"
    assert set_cookies(messages) == []


def test_disabled_middleware_passes_lifespan_through() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    lifespan = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    messages = run(call(PostHogMiddleware(app), {"type": "lifespan"}, lifespan))
    assert [m["type"] for m in messages] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def test_api_key_builds_a_client(inbox: InboxServer) -> None:
    app = PostHogMiddleware(html_app(), api_key="phc_other", host=inbox.url, secret_key="s")
    assert app.tracker is not None
    posthog = app.tracker.client
    try:
        run(call(app, http_scope()))
        (view,) = sent(posthog, inbox, "$pageview")
        assert inbox.requests[-1].decoded()["api_key"] == "phc_other"
        assert view["properties"]["$raw_user_agent"] == BROWSER_UA
    finally:
        posthog.shutdown(timeout=5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"exclude_path": ["x"]}, TypeError, "unknown keyword argument.*exclude_path"),
        ({"api_key": "phc_a", "client": "c"}, TypeError, "api_key or client"),
        ({"secret_key": "a", "cookie_secret": "b"}, TypeError, "secret_key or cookie_secret"),
        ({"distinct_id": "id"}, TypeError, "distinct_id must be a callable"),
        ({"person_properties": {}}, TypeError, "person_properties must be a callable"),
        ({"flush_timeout": -1}, ValueError, "flush_timeout"),
        ({"person_profiles": "sometimes"}, ValueError, "person_profiles"),
        ({"api_key": "phx_personal"}, ValueError, "personal API key"),
    ],
)
def test_bad_configuration_raises_at_start_up(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        PostHogMiddleware(html_app(), **kwargs)


# --- lifespan ---------------------------------------------------------------------------

LIFESPAN = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]


def test_lifespan_flushes_before_acknowledging_shutdown(
    slow_client: Client, inbox: InboxServer
) -> None:
    acknowledged_with: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})

    async def on_send(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            acknowledged_with.append(len(inbox.events()))

    slow_client.capture("queued_before_shutdown", distinct_id="u1")
    middleware = PostHogMiddleware(app, client=slow_client)
    messages = run(call(middleware, {"type": "lifespan"}, LIFESPAN, on_send=on_send))
    assert [m["type"] for m in messages] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert acknowledged_with == [1]


@pytest.mark.parametrize("behaviour", ["raises", "returns", "reads then returns"])
def test_lifespan_is_answered_for_apps_that_do_not_speak_it(
    slow_client: Client, inbox: InboxServer, behaviour: str
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if behaviour == "reads then returns":
            await receive()
            return
        if behaviour == "raises":
            raise ValueError(f"unsupported scope {scope['type']}")

    slow_client.capture("queued_before_shutdown", distinct_id="u1")
    incoming = [*LIFESPAN[:1], {"type": "lifespan.other"}, *LIFESPAN[1:]]
    messages = run(call(PostHogMiddleware(app, client=slow_client), {"type": "lifespan"}, incoming))
    assert [m["type"] for m in messages] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert [e["event"] for e in inbox.events()] == ["queued_before_shutdown"]


def test_lifespan_startup_failure_is_passed_through(slow_client: Client) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        raise RuntimeError("no database")

    with pytest.raises(RuntimeError, match="no database"):
        run(call(PostHogMiddleware(app, client=slow_client), {"type": "lifespan"}, LIFESPAN))


def test_lifespan_flush_failure_is_logged_not_raised(
    slow_client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_flush(timeout: float = 10.0) -> bool:
        raise OSError("disk on fire")

    monkeypatch.setattr(slow_client, "flush", broken_flush)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise ValueError("no lifespan here")

    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        messages = run(
            call(PostHogMiddleware(app, client=slow_client), {"type": "lifespan"}, LIFESPAN)
        )
    assert messages[-1]["type"] == "lifespan.shutdown.complete"
    assert "lifespan flush failed" in caplog.text


# --- the request view -------------------------------------------------------------------


def test_request_view_from_scope() -> None:
    scope = http_scope(
        "/a b",
        method="get",
        headers=[
            (b"Host", b"Example.COM:8443"),
            (b"cookie", b'a=1; b="two"'),
            (b"cookie", b"c=3"),
            (b"accept", b"text/html"),
            (b"accept", b"*/*"),
        ],
        query_string=b"q=%C3%A9",
        client=None,
    )
    view = request_view(scope)
    assert view.method == "GET"
    assert view.host == "example.com:8443"
    assert view.headers["accept"] == "text/html, */*"
    assert view.cookies == {"a": "1", "b": "two", "c": "3"}
    assert view.client_ip is None
    assert view.url == "https://example.com:8443/a%20b?q=%C3%A9"


@pytest.mark.parametrize(
    ("server", "scheme", "host"),
    [
        (("10.0.0.1", 80), "http", "10.0.0.1"),
        (("10.0.0.1", 8000), "http", "10.0.0.1:8000"),
        (("10.0.0.1", 443), "https", "10.0.0.1"),
        (("/tmp/sock", None), "http", "/tmp/sock"),
        (None, "http", ""),
    ],
)
def test_host_falls_back_to_the_server(server: Any, scheme: str, host: str) -> None:
    scope = http_scope(headers=[], scheme=scheme, server=server)
    assert request_view(scope).host == host


def test_cookie_header_parsing_is_lenient() -> None:
    assert parse_cookie_header("") == {}
    assert parse_cookie_header('a=1;;b; =x; c = 3 ; a=2; d="') == {"a": "1", "c": "3", "d": '"'}


def test_package_failure_at_request_start_leaves_the_app_alone(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = PostHogMiddleware(html_app(), client=client)
    scope = http_scope(headers=[(b"host", 42)])  # not bytes: request_view fails
    with caplog.at_level(logging.ERROR, logger="posthog_web"):
        messages = run(call(app, scope))
    assert messages[1]["body"] == b"<h1>hi</h1>"
    assert "request start failed" in caplog.text
    assert sent(client, inbox) == []


def test_package_failure_at_response_start_sends_the_original_message(
    client: Client, inbox: InboxServer
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": "not a number", "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    messages = run(call(PostHogMiddleware(app, client=client), http_scope()))
    assert messages[0] == {"type": "http.response.start", "status": "not a number", "headers": []}
    assert pageviews(client, inbox) == []
