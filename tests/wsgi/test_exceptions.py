"""Error tracking in the WSGI middleware around plain WSGI callables, checked at the inbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.exceptions import NotFound, ServiceUnavailable

from posthog_web import Client
from posthog_web.inbox import InboxServer
from posthog_web.wsgi import PostHogMiddleware
from tests.asgi.helpers import pageviews, sent
from tests.wsgi.test_middleware import HTML, PAGE, environ, serve


class CheckoutError(RuntimeError):
    """What the failing routes raise."""


class _Refusing(type):
    def __instancecheck__(cls, instance: object) -> bool:
        raise RuntimeError("a broken ignore list")


class Unmatchable(Exception, metaclass=_Refusing):
    """An ignored type whose isinstance check itself fails."""


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


def shop(env: dict[str, Any], start_response: Any) -> Any:
    """A WSGI app with no framework: a page, a failing call and failing bodies."""
    path = env["PATH_INFO"]
    if path == "/checkout":
        raise CheckoutError(f"order {env.get('QUERY_STRING')} failed")
    if path == "/not-found":
        raise NotFound()
    if path == "/unavailable":
        raise ServiceUnavailable()
    if path == "/half":
        return _half(start_response)
    if path == "/before-first-chunk":
        return _broken_before_first_chunk(start_response)
    if path == "/closing":
        start_response("200 OK", [("Content-Type", HTML)])
        return _FailingClose()
    start_response("200 OK", [("Content-Type", HTML)])
    return [PAGE]


def _half(start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", HTML)])
    yield b"<!doctype html><title>Half</title>"
    raise CheckoutError("the stream broke")


def _broken_before_first_chunk(start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", HTML)])
    yield b""  # nothing sent yet: the server still answers 500
    raise CheckoutError("broke before the first byte")


class _FailingClose:
    def __iter__(self) -> Iterator[bytes]:
        yield PAGE

    def close(self) -> None:
        raise CheckoutError("close failed")


def exceptions(client: Client, inbox: InboxServer) -> list[dict[str, Any]]:
    return sent(client, inbox, "$exception")


def test_an_exception_escaping_the_app_is_sent_on_the_visitor_and_re_raised(
    client: Client, inbox: InboxServer
) -> None:
    app = PostHogMiddleware(shop, client=client, secret_key="s")
    page = serve(app, environ("/"))
    cookie = "; ".join(f"{m.key}={m.value}" for m in page.cookies().values())
    with pytest.raises(CheckoutError, match="order api_key=s3cret failed") as caught:
        serve(app, environ("/checkout", QUERY_STRING="api_key=s3cret", HTTP_COOKIE=cookie))
    [pageview] = pageviews(client, inbox)
    [event] = exceptions(client, inbox)
    props = event["properties"]
    assert event["distinct_id"] == pageview["distinct_id"]
    assert props["$session_id"] == pageview["properties"]["$session_id"]
    assert props["$response_status"] == 500
    assert props["$exception_source"] == "wsgi.middleware"
    assert props["$request_method"] == "GET"
    assert props["$pathname"] == "/checkout"
    assert props["$ip"] == "203.0.113.7"
    [entry] = props["$exception_list"]
    assert (entry["type"], entry["mechanism"]["type"]) == ("CheckoutError", "middleware")
    assert entry["mechanism"]["handled"] is False
    assert entry["stacktrace"]["frames"][-1]["function"] == "shop"
    assert "s3cret" not in json.dumps(props["$current_url"])
    assert not any("cookie" in key.lower() or "header" in key.lower() for key in props)
    assert caught.value.__traceback__ is not None  # the exception itself, not a copy
    assert not hasattr(caught.value, "__notes__")


def test_a_body_failing_after_a_chunk_keeps_the_status_sent(
    client: Client, inbox: InboxServer
) -> None:
    app = PostHogMiddleware(shop, client=client)
    for path in ("/half", "/before-first-chunk", "/closing"):
        with pytest.raises(CheckoutError):
            serve(app, environ(path))
    statuses = {
        e["properties"]["$exception_list"][0]["value"]: e["properties"]["$response_status"]
        for e in exceptions(client, inbox)
    }
    assert statuses == {
        "the stream broke": 200,
        "broke before the first byte": 500,
        "close failed": 200,
    }


def test_werkzeug_http_exceptions_below_500_are_not_errors(
    client: Client, inbox: InboxServer
) -> None:
    app = PostHogMiddleware(shop, client=client)
    with pytest.raises(NotFound):
        serve(app, environ("/not-found"))
    with pytest.raises(ServiceUnavailable):
        serve(app, environ("/unavailable"))
    [event] = exceptions(client, inbox)
    assert event["properties"]["$exception_list"][0]["type"] == "ServiceUnavailable"


def test_capture_exceptions_false_and_ignore_exceptions(client: Client, inbox: InboxServer) -> None:
    for options in ({"capture_exceptions": False}, {"ignore_exceptions": [CheckoutError]}):
        with pytest.raises(CheckoutError):
            serve(PostHogMiddleware(shop, client=client, **options), environ("/checkout"))
    assert exceptions(client, inbox) == []
    with pytest.raises(TypeError, match="capture_exceptions must be True or False"):
        PostHogMiddleware(shop, client=client, capture_exceptions="no")
    with pytest.raises(ValueError, match="in_app"):
        PostHogMiddleware(shop, client=client, in_app=[""])


def test_in_app_and_code_variables_keywords(client: Client, inbox: InboxServer) -> None:
    app = PostHogMiddleware(shop, client=client, capture_code_variables=True, in_app=["tests"])
    with pytest.raises(CheckoutError):
        serve(app, environ("/checkout", QUERY_STRING="7"))
    [event] = exceptions(client, inbox)
    frame = event["properties"]["$exception_list"][0]["stacktrace"]["frames"][-1]
    assert frame["in_app"] is True
    assert frame["code_variables"]["path"] == "'/checkout'"


def test_a_failing_capture_is_logged_and_the_exception_goes_on(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = PostHogMiddleware(shop, client=client, ignore_exceptions=[Unmatchable])
    with pytest.raises(CheckoutError):
        serve(app, environ("/checkout"))
    assert "exception capture failed" in caplog.text
    assert exceptions(client, inbox) == []
    serve(app, environ("/"))  # the next request is served and tracked as usual
    assert len(pageviews(client, inbox)) == 1


def test_keyboard_interrupt_passes_through_unsent(client: Client, inbox: InboxServer) -> None:
    def app(env: dict[str, Any], start_response: Any) -> list[bytes]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        serve(PostHogMiddleware(app, client=client), environ("/"))
    assert exceptions(client, inbox) == []
