"""Error tracking in the ASGI middleware (FastAPI, Starlette, a bare ASGI app)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import BackgroundTasks, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.testclient import TestClient

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.fastapi import PostHog
from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER, call, http_scope, pageviews, run, sent


class CheckoutError(RuntimeError):
    """What the failing endpoints raise."""


def error_app(client: Client, **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}/fail")
    def fail(item_id: int) -> dict[str, int]:
        raise CheckoutError(f"item {item_id} failed")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            yield b"<!doctype html><title>s</title>"
            raise CheckoutError("the stream broke")

        return StreamingResponse(chunks(), media_type="text/html")

    @app.get("/later", response_class=HTMLResponse)
    def later(tasks: BackgroundTasks) -> str:
        def send_receipt() -> None:
            raise CheckoutError("the receipt failed")

        tasks.add_task(send_receipt)
        return "<!doctype html><title>later</title>"

    @app.get("/missing")
    def missing() -> dict[str, str]:
        raise HTTPException(status_code=404)

    @app.get("/typed/{n}")
    def typed(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/handled", response_class=HTMLResponse)
    def handled(request: Request, posthog: PostHog) -> str:
        try:
            {}["order"]
        except KeyError:
            posthog.capture_exception(properties={"form": "checkout"})
        request.state.posthog.capture_exception(CheckoutError("via request.state"))
        posthog_web.current().capture_exception(CheckoutError("via current()"))
        return "<!doctype html><title>ok</title>"

    app.add_middleware(PostHogMiddleware, client=client, secret_key="s", **options)
    return app


def exceptions(client: Client, inbox: InboxServer) -> list[dict[str, Any]]:
    return sent(client, inbox, "$exception")


def test_an_escaping_exception_is_sent_with_the_request_context(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(error_app(client), headers=BROWSER, raise_server_exceptions=False) as http:
        assert http.get("/handled").status_code == 200
        anon_id = http.cookies["ph_web_id"].split(".")[1]
        manual = exceptions(client, inbox)
        response = http.get("/items/4/fail?api_key=s3cret")
        assert response.status_code == 500  # Starlette's ServerErrorMiddleware, unchanged
        assert response.text == "Internal Server Error"
    [pageview] = pageviews(client, inbox)
    [event] = [e for e in exceptions(client, inbox) if e not in manual]
    props = event["properties"]
    assert event["distinct_id"] == anon_id
    assert props["$session_id"] == pageview["properties"]["$session_id"]
    assert "s3cret" not in json.dumps(event)
    assert props["$pathname"] == "/items/4/fail"
    assert props["$request_method"] == "GET"
    assert props["route"] == "/items/{item_id}/fail"
    assert props["$response_status"] == 500
    assert props["$exception_source"] == "asgi.middleware"
    [entry] = props["$exception_list"]
    assert (entry["type"], entry["value"]) == ("CheckoutError", "item 4 failed")
    assert entry["mechanism"]["type"] == "middleware"
    assert entry["mechanism"]["handled"] is False
    assert entry["stacktrace"]["frames"][-1]["function"] == "fail"
    assert not any("cookie" in key.lower() or "header" in key.lower() for key in props)


def test_the_test_client_still_raises_the_exception(client: Client, inbox: InboxServer) -> None:
    with (
        TestClient(error_app(client), headers=BROWSER) as http,
        pytest.raises(CheckoutError, match="item 1 failed"),
    ):
        http.get("/items/1/fail")
    [event] = exceptions(client, inbox)
    assert event["properties"]["$exception_list"][0]["value"] == "item 1 failed"


def test_an_exception_after_the_response_started_keeps_its_status(
    client: Client, inbox: InboxServer
) -> None:
    with (
        TestClient(error_app(client), headers=BROWSER) as http,
        pytest.raises(CheckoutError, match="the stream broke"),
    ):
        http.get("/stream")
    [event] = exceptions(client, inbox)
    assert event["properties"]["$response_status"] == 200


def test_a_background_task_after_the_response(client: Client, inbox: InboxServer) -> None:
    with (
        TestClient(error_app(client), headers=BROWSER) as http,
        pytest.raises(CheckoutError, match="the receipt failed"),
    ):
        http.get("/later")
    [event] = exceptions(client, inbox)
    assert event["properties"]["$response_status"] == 200
    assert event["properties"]["route"] == "/later"
    [pageview] = pageviews(client, inbox)
    assert event["distinct_id"] == pageview["distinct_id"]


def test_what_fastapi_answers_itself_is_not_an_error(client: Client, inbox: InboxServer) -> None:
    with TestClient(error_app(client), headers=BROWSER) as http:
        assert http.get("/missing").status_code == 404
        assert http.get("/typed/not-a-number").status_code == 422
    assert exceptions(client, inbox) == []


def test_the_helper_the_dependency_and_current(client: Client, inbox: InboxServer) -> None:
    with TestClient(error_app(client), headers=BROWSER) as http:
        assert http.get("/handled").status_code == 200
        anon_id = http.cookies["ph_web_id"].split(".")[1]
    events = exceptions(client, inbox)
    assert [e["properties"]["$exception_list"][0]["type"] for e in events] == [
        "KeyError",
        "CheckoutError",
        "CheckoutError",
    ]
    assert events[0]["properties"]["form"] == "checkout"
    for event in events:
        assert event["distinct_id"] == anon_id
        assert event["properties"]["route"] == "/handled"
        assert event["properties"]["$exception_list"][0]["mechanism"]["handled"] is True


def test_options_capture_exceptions_and_ignore_exceptions(
    client: Client, inbox: InboxServer
) -> None:
    for options in ({"capture_exceptions": False}, {"ignore_exceptions": [CheckoutError]}):
        app = error_app(client, **options)
        with TestClient(app, headers=BROWSER, raise_server_exceptions=False) as http:
            assert http.get("/items/1/fail").status_code == 500
    assert exceptions(client, inbox) == []
    with pytest.raises(TypeError, match="capture_exceptions must be True or False"):
        PostHogMiddleware(error_app(client), client=client, capture_exceptions="no")
    with pytest.raises(ValueError, match="in_app"):
        PostHogMiddleware(error_app(client), client=client, in_app=[""])


def test_code_variables_keyword(client: Client, inbox: InboxServer) -> None:
    app = error_app(client, capture_code_variables=True, in_app=["tests.asgi"])
    with TestClient(app, headers=BROWSER, raise_server_exceptions=False) as http:
        assert http.get("/items/8/fail").status_code == 500
    [event] = exceptions(client, inbox)
    frame = event["properties"]["$exception_list"][0]["stacktrace"]["frames"][-1]
    assert frame["code_variables"] == {"item_id": 8}


def test_a_bare_asgi_app(client: Client, inbox: InboxServer) -> None:
    failure = CheckoutError("bare app failed")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise failure

    with pytest.raises(CheckoutError) as caught:
        run(call(PostHogMiddleware(app, client=client), http_scope("/bare")))
    assert caught.value is failure
    [event] = exceptions(client, inbox)
    props = event["properties"]
    assert props["$current_url"] == "https://example.com/bare"
    assert props["$ip"] == "203.0.113.7"
    assert props["$response_status"] == 500


def test_a_flood_of_one_failure_is_bounded(client: Client, inbox: InboxServer) -> None:
    with TestClient(error_app(client), headers=BROWSER, raise_server_exceptions=False) as http:
        for item in range(13):
            assert http.get(f"/items/{item}/fail").status_code == 500
    assert len(exceptions(client, inbox)) == 10


class _Refusing(type):
    def __instancecheck__(cls, instance: object) -> bool:
        raise RuntimeError("a broken ignore list")


class Unmatchable(Exception, metaclass=_Refusing):
    """An ignored type whose isinstance check itself fails."""


def test_a_failing_capture_is_logged_and_the_exception_goes_on(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = error_app(client, ignore_exceptions=[Unmatchable])
    with TestClient(app, headers=BROWSER) as http, pytest.raises(CheckoutError):
        http.get("/items/2/fail")
    assert "exception capture failed" in caplog.text
    assert exceptions(client, inbox) == []


def test_bad_arguments_raise_at_the_call_in_and_outside_a_request() -> None:
    helper = posthog_web.current()
    with pytest.raises(TypeError, match="exc must be an exception instance"):
        helper.capture_exception("boom")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no exception is being handled"):
        helper.capture_exception()
    with pytest.raises(TypeError, match="properties"):
        helper.capture_exception(ValueError("x"), properties={"n": object()})
    helper.capture_exception(ValueError("outside a request: nothing is sent"))


def test_bad_arguments_raise_inside_a_request(client: Client, inbox: InboxServer) -> None:
    app = FastAPI()

    @app.get("/bad")
    def bad(posthog: PostHog) -> dict[str, str]:
        with pytest.raises(TypeError, match="exc must be an exception instance"):
            posthog.capture_exception(42)  # type: ignore[arg-type]
        return {"ok": "yes"}

    app.add_middleware(PostHogMiddleware, client=client)
    with TestClient(app, headers=BROWSER) as http:
        assert http.get("/bad").json() == {"ok": "yes"}
    assert exceptions(client, inbox) == []
