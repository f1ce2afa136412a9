"""The WSGI middleware around plain WSGI callables (no framework), checked at the inbox."""

from __future__ import annotations

import gzip
import io
import threading
import wsgiref.util
from collections.abc import Callable, Iterable, Iterator
from http.cookies import SimpleCookie
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

import posthog_web
from posthog_web import Client
from posthog_web.inbox import InboxServer
from posthog_web.web.helper import NoopHelper, RequestHelper
from posthog_web.wsgi import HELPER_KEY, PostHogMiddleware
from tests.asgi.helpers import BROWSER_UA, pageviews, sent

HTML = "text/html; charset=utf-8"
PAGE = b"<!doctype html><title>Plain WSGI</title><h1>hi</h1>"


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


def environ(path: str = "/", method: str = "GET", **extra: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": "shop.example",
        "HTTP_USER_AGENT": BROWSER_UA,
        "REMOTE_ADDR": "203.0.113.7",
    }
    env.update(extra)
    wsgiref.util.setup_testing_defaults(env)
    return env


class Served:
    """What a server sent for one call: status, headers, chunks, and whether it closed."""

    def __init__(self) -> None:
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.chunks: list[bytes] = []
        self.body: Iterable[bytes] | None = None

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None):  # type: ignore[no-untyped-def]
        self.status, self.headers = status, headers
        return self.chunks.append

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def cookies(self) -> SimpleCookie:
        jar: SimpleCookie = SimpleCookie()
        for value in self.header("set-cookie"):
            jar.load(value)
        return jar


def serve(app: Callable[..., Iterable[bytes]], env: dict[str, Any]) -> Served:
    """Call ``app`` as PEP 3333 servers do: iterate the body, then always close() it."""
    served = Served()
    body = app(env, served.start_response)
    served.body = body
    try:
        for chunk in body:
            served.chunks.append(chunk)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return served


def html_app(body: bytes = PAGE, headers: list[tuple[str, str]] | None = None) -> Any:
    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", HTML), *(headers or [])])
        return [body]

    return app


def test_an_html_page_is_a_page_view_with_its_title_cookies_and_private_cache(
    client: Client, inbox: InboxServer
) -> None:
    served = serve(
        PostHogMiddleware(html_app(headers=[("Cache-Control", "max-age=60")]), client=client),
        environ("/products/7", QUERY_STRING="utm_source=news"),
    )
    assert served.status == "200 OK"
    assert b"".join(served.chunks) == PAGE
    cookies = served.cookies()
    assert {"ph_web_id", "ph_web_session"} <= set(cookies)
    assert served.header("Cache-Control") == ["private, max-age=60"]
    assert "Cookie" in served.header("Vary")[0]
    [view] = pageviews(client, inbox)
    props = view["properties"]
    assert props["$current_url"] == "http://shop.example/products/7?utm_source=news"
    assert props["title"] == "Plain WSGI"
    assert props["utm_source"] == "news"
    assert props["$browser"] == "Safari"
    assert props["$ip"] == "203.0.113.7"
    assert view["distinct_id"] == cookies["ph_web_id"].value.split(".")[1]


def test_a_body_the_app_compressed_keeps_its_title(client: Client, inbox: InboxServer) -> None:
    # A compressing middleware inside this one (or an app that gzips itself).
    zipped = gzip.compress(PAGE)
    served = serve(
        PostHogMiddleware(html_app(zipped, [("Content-Encoding", "gzip")]), client=client),
        environ("/zipped", HTTP_ACCEPT_ENCODING="gzip"),
    )
    assert b"".join(served.chunks) == zipped  # passed on untouched
    [view] = pageviews(client, inbox)
    assert view["properties"]["title"] == "Plain WSGI"


def test_a_304_to_a_page_load_is_a_page_view(client: Client, inbox: InboxServer) -> None:
    def not_modified(env: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("304 Not Modified", [("ETag", '"v1"')])
        return []

    app = PostHogMiddleware(not_modified, client=client)
    serve(app, environ("/cached", HTTP_SEC_FETCH_DEST="document", HTTP_IF_NONE_MATCH='"v1"'))
    serve(app, environ("/cached", HTTP_SEC_FETCH_DEST="script", HTTP_IF_NONE_MATCH='"v1"'))
    [view] = pageviews(client, inbox)
    assert view["properties"]["$pathname"] == "/cached"
    assert "title" not in view["properties"]


def test_the_helper_is_in_the_environ_and_current_while_the_app_runs(
    client: Client, inbox: InboxServer
) -> None:
    seen: list[object] = []

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        helper = env[HELPER_KEY]
        assert posthog_web.current() is helper
        helper.capture("signed_up", {"plan": "pro"})
        seen.append(helper)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    serve(PostHogMiddleware(app, client=client), environ("/api/signup", "POST"))
    assert isinstance(seen[0], RequestHelper)
    assert isinstance(posthog_web.current(), NoopHelper)  # unbound after the request
    [event] = sent(client, inbox, "signed_up")
    assert event["properties"]["plan"] == "pro"
    assert event["properties"]["$current_url"] == "http://shop.example/api/signup"
    assert inbox.events("$pageview") == []


def test_a_streamed_body_passes_through_chunk_by_chunk_with_the_helper_bound(
    client: Client, inbox: InboxServer
) -> None:
    closed: list[bool] = []
    during: list[object] = []

    class Stream:
        def __iter__(self) -> Iterator[bytes]:
            for part in (b"<title>Stream</title>", b"<p>one</p>", b"<p>two</p>"):
                during.append(posthog_web.current())
                yield part

        def close(self) -> None:
            closed.append(True)

    def app(env: dict[str, Any], start_response: Any) -> Stream:
        start_response("200 OK", [("Content-Type", HTML)])
        return Stream()

    served = serve(PostHogMiddleware(app, client=client), environ("/live"))
    assert served.chunks == [b"<title>Stream</title>", b"<p>one</p>", b"<p>two</p>"]
    assert closed == [True]
    assert all(isinstance(h, RequestHelper) and not isinstance(h, NoopHelper) for h in during)
    assert pageviews(client, inbox) == []  # a stream is not a page view, as in ASGI
    assert isinstance(posthog_web.current(), NoopHelper)


def test_a_file_wrapper_body_is_returned_untouched(client: Client, inbox: InboxServer) -> None:
    payload = io.BytesIO(b"<title>A file</title>" * 10)

    def app(env: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", HTML)])
        return env["wsgi.file_wrapper"](payload, 64)

    env = environ("/download")
    env["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    served = serve(PostHogMiddleware(app, client=client), env)
    assert isinstance(served.body, wsgiref.util.FileWrapper)
    assert served.body.filelike is payload  # the server may sendfile() it
    assert payload.closed  # the server's close() reached the file
    assert pageviews(client, inbox) == []


def test_close_is_called_when_the_body_fails_and_the_error_propagates(
    client: Client, inbox: InboxServer
) -> None:
    closed: list[bool] = []
    failure = RuntimeError("the template broke halfway")

    class Failing:
        def __iter__(self) -> Iterator[bytes]:
            yield b"<title>Half</title>"
            raise failure

        def close(self) -> None:
            closed.append(True)

    def app(env: dict[str, Any], start_response: Any) -> Failing:
        start_response("200 OK", [("Content-Type", HTML)])
        return Failing()

    with pytest.raises(RuntimeError) as caught:
        serve(PostHogMiddleware(app, client=client), environ())
    assert caught.value is failure
    assert closed == [True]
    assert pageviews(client, inbox) == []


def test_an_exception_from_the_app_propagates_unchanged(client: Client, inbox: InboxServer) -> None:
    failure = KeyError("missing")

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        raise failure

    with pytest.raises(KeyError) as caught:
        serve(PostHogMiddleware(app, client=client), environ())
    assert caught.value is failure
    assert isinstance(posthog_web.current(), NoopHelper)
    [event] = sent(client, inbox)  # only its $exception (tests/wsgi/test_exceptions.py)
    assert event["event"] == "$exception"


def test_start_response_called_at_the_first_chunk(client: Client, inbox: InboxServer) -> None:
    # A generator app calls start_response only when the server asks for the first chunk.
    def app(env: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", HTML)])
        yield PAGE

    served = serve(PostHogMiddleware(app, client=client), environ())
    assert "ph_web_id" in served.cookies()
    assert b"".join(served.chunks) == PAGE
    assert pageviews(client, inbox) == []  # a generator is a stream


def test_the_write_callable_still_works(client: Client, inbox: InboxServer) -> None:
    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", HTML)])
        write(b"<title>Legacy</title>")
        return []

    served = serve(PostHogMiddleware(app, client=client), environ())
    assert served.chunks == [b"<title>Legacy</title>"]
    assert pageviews(client, inbox) == []  # the body went around us: no title, no view


def test_head_and_disabled_pass_through_with_a_noop_helper(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    helpers: list[object] = []

    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        helpers.append(env[HELPER_KEY])
        helpers.append(posthog_web.current())
        start_response("200 OK", [("Content-Type", HTML)])
        return [PAGE]

    served = serve(PostHogMiddleware(app, client=client), environ(method="HEAD"))
    assert served.header("set-cookie") == []
    with caplog.at_level("WARNING", logger="posthog_web"):
        disabled = PostHogMiddleware(app)
    assert "disabled" in caplog.text
    served = serve(disabled, environ())
    assert served.header("set-cookie") == []
    assert all(isinstance(h, NoopHelper) for h in helpers)
    assert len(helpers) == 4
    assert sent(client, inbox) == []


def test_remote_user_and_a_distinct_id_callable_identify_the_visitor(
    client: Client, inbox: InboxServer
) -> None:
    serve(PostHogMiddleware(html_app(), client=client), environ(REMOTE_USER="ada"))
    custom = PostHogMiddleware(
        html_app(),
        client=client,
        distinct_id=lambda env: env.get("HTTP_X_USER"),
        person_properties=lambda env: {"email": f"{env['HTTP_X_USER']}@example.com"},
    )
    serve(custom, environ(HTTP_X_USER="grace"))
    serve(custom, environ())  # None: anonymous
    views = pageviews(client, inbox)
    assert [v["distinct_id"] for v in views[:2]] == ["ada", "grace"]
    assert views[2]["properties"]["$process_person_profile"] is False
    [identify] = inbox.events("$identify")
    assert identify["distinct_id"] == "grace"
    assert identify["$set"] == {"email": "grace@example.com"}


def test_the_path_is_decoded_as_utf8_and_script_name_kept(
    client: Client, inbox: InboxServer
) -> None:
    raw = "/café".encode().decode("latin-1")  # as PEP 3333 servers hand it over
    serve(PostHogMiddleware(html_app(), client=client), environ(raw, SCRIPT_NAME="/shop"))
    [view] = pageviews(client, inbox)
    assert view["properties"]["$pathname"] == "/shop/café"
    assert view["properties"]["$current_url"] == "http://shop.example/shop/caf%C3%A9"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"exclude_path": ["x"]}, TypeError, "unknown keyword argument.*exclude_path"),
        ({"distinct_id": "id"}, TypeError, "distinct_id must be a callable"),
        ({"person_properties": {}}, TypeError, "person_properties must be a callable"),
        ({"api_key": "phc_x", "client": "c"}, TypeError, "api_key or client"),
        ({"client": "c"}, TypeError, "client must be a posthog_web.Client"),
        ({"ip_mode": "half"}, ValueError, "ip_mode"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        PostHogMiddleware(html_app(), **kwargs)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_under_a_real_wsgi_server(client: Client, inbox: InboxServer) -> None:
    server = make_server(
        "127.0.0.1", 0, PostHogMiddleware(html_app(), client=client), handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/welcome"
        browser = requests.Session()
        first = browser.get(url, headers={"User-Agent": BROWSER_UA}, timeout=5)
        second = browser.get(url, headers={"User-Agent": BROWSER_UA}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert first.text == second.text == PAGE.decode()
    assert "ph_web_id" in first.cookies
    views = pageviews(client, inbox)
    assert len(views) == 2
    assert views[0]["distinct_id"] == views[1]["distinct_id"]
    assert views[0]["properties"]["$session_id"] == views[1]["properties"]["$session_id"]
