"""Error tracking in the Flask extension (Flask's got_request_exception), at the inbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response, abort, stream_with_context
from flask.testing import FlaskClient

from posthog_web import Client
from posthog_web.inbox import InboxServer
from tests.flask.test_extension import UA, make_app, sent
from tests.wsgi.test_exceptions import Unmatchable


class CheckoutError(RuntimeError):
    """What the failing views raise."""


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


def error_app(client: Client, **settings: Any) -> Flask:
    app = make_app(client, **settings)

    @app.get("/orders/<int:oid>")
    def order(oid: int) -> str:
        raise CheckoutError(f"order {oid} failed")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    @app.get("/broken-stream")
    def broken_stream() -> Response:
        def chunks() -> Iterator[str]:
            yield "<title>Streamed</title>"
            raise CheckoutError("the stream broke")

        return Response(stream_with_context(chunks()), mimetype="text/html")

    return app


def exceptions(client: Client, inbox: InboxServer) -> list[dict[str, Any]]:
    return sent(client, inbox, "$exception")


def status(http: FlaskClient, path: str) -> int:
    """GET ``path`` as a server would: the whole body read, then closed."""
    response = http.get(path, headers=UA)
    response.get_data()
    response.close()
    return response.status_code


def test_flask_answers_500_and_the_exception_is_sent_once_with_the_request(
    client: Client, inbox: InboxServer
) -> None:
    http = error_app(client).test_client()
    assert status(http, "/") == 200
    response = http.get("/orders/4?token=s3cret", headers=UA)
    assert response.status_code == 500  # Flask's own 500 page, unchanged
    assert "Internal Server Error" in response.text
    [pageview] = sent(client, inbox, "$pageview")
    [event] = exceptions(client, inbox)
    props = event["properties"]
    assert event["distinct_id"] == pageview["distinct_id"]
    assert props["$session_id"] == pageview["properties"]["$session_id"]
    assert props["$response_status"] == 500
    assert props["$exception_source"] == "flask.got_request_exception"
    assert props["$pathname"] == "/orders/4"
    assert "s3cret" not in props["$current_url"]
    assert (props["route"], props["route_name"]) == ("/orders/<int:oid>", "order")
    assert props["view"].endswith("error_app.<locals>.order")
    [entry] = props["$exception_list"]
    assert (entry["type"], entry["value"]) == ("CheckoutError", "order 4 failed")
    assert entry["mechanism"] == {**entry["mechanism"], "type": "middleware", "handled": False}
    assert entry["stacktrace"]["frames"][-1]["function"] == "order"


def test_propagated_by_flask_the_exception_is_unchanged_and_sent_once(
    client: Client, inbox: InboxServer
) -> None:
    app = error_app(client)
    app.testing = True  # PROPAGATE_EXCEPTIONS: the signal, then the WSGI layer see it
    http = app.test_client()
    with pytest.raises(CheckoutError, match="order 9 failed"):
        http.get("/orders/9", headers=UA)
    [event] = exceptions(client, inbox)
    props = event["properties"]
    assert props["$response_status"] == 500
    assert props["$exception_source"] == "flask.got_request_exception"
    assert props["route"] == "/orders/<int:oid>"  # after_request did not run


def test_the_status_of_the_apps_500_handler_and_a_logged_in_user(
    client: Client, inbox: InboxServer
) -> None:
    app = error_app(client)

    @app.errorhandler(500)
    def unavailable(error: Exception) -> tuple[str, int]:
        return "<p>down for maintenance</p>", 503

    http = app.test_client()
    http.post("/login/ada", headers=UA)
    response = http.get("/orders/1", headers=UA)
    assert (response.status_code, response.text) == (503, "<p>down for maintenance</p>")
    [event] = exceptions(client, inbox)
    assert event["distinct_id"] == "ada"
    assert event["properties"]["$response_status"] == 503


def test_an_exception_in_a_streamed_body_keeps_the_status_sent(
    client: Client, inbox: InboxServer
) -> None:
    http = error_app(client).test_client()
    with pytest.raises(CheckoutError, match="the stream broke"):
        http.get("/broken-stream", headers=UA).get_data()
    [event] = exceptions(client, inbox)
    assert event["properties"]["$response_status"] == 200
    assert event["properties"]["$exception_source"] == "wsgi.middleware"


def test_http_exceptions_below_500_are_not_errors(client: Client, inbox: InboxServer) -> None:
    app = error_app(client)
    assert status(app.test_client(), "/missing") == 404
    # Trapped, the 404 reaches got_request_exception (Flask then answers 500).
    app.config["TRAP_HTTP_EXCEPTIONS"] = True
    assert status(app.test_client(), "/missing") == 500
    assert exceptions(client, inbox) == []


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"CAPTURE_EXCEPTIONS": False}, id="capture-off"),
        pytest.param(
            {"IGNORE_EXCEPTIONS": ["tests.flask.test_exceptions.CheckoutError"]}, id="ignored"
        ),
    ],
)
def test_capture_exceptions_and_ignore_exceptions_settings(
    client: Client, inbox: InboxServer, settings: dict[str, Any]
) -> None:
    http = error_app(client, **settings).test_client()
    assert status(http, "/orders/2") == 500
    assert exceptions(client, inbox) == []


def test_in_app_and_code_variables_settings(client: Client, inbox: InboxServer) -> None:
    app = error_app(client, IN_APP=["tests.flask"], CAPTURE_CODE_VARIABLES=True)
    assert status(app.test_client(), "/orders/8") == 500
    [event] = exceptions(client, inbox)
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[-1]["code_variables"] == {"oid": 8}
    assert [f["in_app"] for f in frames].count(True) == 1  # Flask's frames are not the app's


def test_a_failing_capture_is_logged_and_flask_answers_as_usual(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    http = error_app(client, IGNORE_EXCEPTIONS=[Unmatchable]).test_client()
    assert status(http, "/orders/3") == 500
    assert "exception capture failed" in caplog.text
    assert exceptions(client, inbox) == []
    assert status(http, "/") == 200
    assert len(sent(client, inbox, "$pageview")) == 1
