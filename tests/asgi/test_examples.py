"""The example apps, end to end through the TestClient, checked in the inbox."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from types import ModuleType
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from posthog_web.inbox import InboxServer
from posthog_web.web.identity import posthog_cookie_name
from tests.asgi.helpers import BROWSER

LOGIN = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture(params=["starlette_app", "fastapi_app"])
def example(
    request: pytest.FixtureRequest, inbox: InboxServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.setenv("POSTHOG_HOST", inbox.url)
    module = importlib.reload(importlib.import_module(f"example_starlette.{request.param}"))
    yield module
    # The FastAPI app's middleware builds its own client (flushed by the lifespan).
    client = getattr(module, "posthog_client", None)
    if client is not None:
        client.shutdown(timeout=5)


def test_example_journey(example: ModuleType, inbox: InboxServer) -> None:
    with TestClient(example.app, headers=BROWSER) as http:
        assert "Every page" in http.get("/").text
        assert http.get("/pricing").status_code == 200
        assert http.get("/products/2").status_code == 200
        assert http.get("/products/99").status_code == 404
        anon_id = http.cookies["ph_web_id"].split(".")[1]
        bought = http.post("/products/2/buy")
        assert "Thank you" in bought.text
        assert http.get("/dashboard").url.path == "/login"
        wrong = http.post("/login", content="username=demo&password=nope", headers=LOGIN)
        assert wrong.status_code == 401
        logged_in = http.post(
            "/login", content="username=demo&password=demo-password", headers=LOGIN
        )
        assert logged_in.url.path == "/dashboard"
        assert "Welcome back, demo" in logged_in.text
        assert http.get("/api/products").json()[1]["name"] == "Fountain pen"
        # posthog-js holds the user, as after a page with the snippet; the logout is a
        # redirect, and the page it leads to resets posthog-js before init (issue 13).
        home = http.get("/").text
        assert "Max-Age=0" not in home
        token = re.search(r'posthog\.init\("([^"]+)"', home)
        assert token is not None
        js_state = {"distinct_id": "demo", "$user_state": "identified"}
        http.cookies.set(posthog_cookie_name(token.group(1)), quote(json.dumps(js_state)))
        assert "Max-Age=0" not in http.get("/").text
        after_logout = http.post("/logout")
        assert after_logout.url.path == "/"
        assert after_logout.text.index("Max-Age=0") < after_logout.text.index("posthog.init(")
        assert '"isIdentifiedID":false' in after_logout.text

    # Leaving the TestClient ran the lifespan shutdown, which flushed the client.
    events = inbox.events()
    names = [e["event"] for e in events]
    assert names.count("purchase_completed") == 1
    purchase = next(e for e in events if e["event"] == "purchase_completed")
    assert purchase["distinct_id"] == anon_id
    assert purchase["properties"]["product"] == "Fountain pen"
    views = [e for e in events if e["event"] == "$pageview"]
    paths = [(v["properties"]["$pathname"], v["distinct_id"]) for v in views]
    assert paths[:4] == [
        ("/", anon_id),
        ("/pricing", anon_id),
        ("/products/2", anon_id),
        ("/products/2", anon_id),
    ]
    assert ("/dashboard", "demo") in paths
    assert paths[-1][0] == "/"  # after logout: a new anonymous id
    assert paths[-1][1] not in (anon_id, "demo")
    (alias,) = [e for e in events if e["event"] == "$create_alias"]
    assert alias["properties"]["alias"] == anon_id
    # One $identify, though the FastAPI example's dependency calls login() on every request.
    (identify,) = [e for e in events if e["event"] == "$identify"]
    assert identify["distinct_id"] == "demo"
    (screen,) = [e for e in events if e["event"] == "$screen"]
    assert screen["distinct_id"] == "demo"
    assert screen["properties"]["$screen_name"] == "Products"


def test_example_logs_where_events_go(
    inbox: InboxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from example_starlette import common

    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    with caplog.at_level("INFO", logger="example_starlette"):
        client = common.make_client()
    client.shutdown(timeout=1)
    assert client.host == common.LOCAL_INBOX
    assert f"events go to {common.LOCAL_INBOX}" in caplog.text
    assert common.unsign(common.sign("demo")) == "demo"
    assert common.unsign("demo:forged") is None
    assert common.unsign(None) is None


def test_fastapi_example_without_a_key_uses_the_local_inbox(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    module = importlib.reload(importlib.import_module("example_starlette.fastapi_app"))
    with caplog.at_level("INFO", logger="posthog_web"), TestClient(module.app):
        pass  # the lifespan builds the middleware, nothing is sent
    assert "events go to the local inbox at http://127.0.0.1:8010" in caplog.text
