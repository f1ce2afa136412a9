"""FastAPI: the ``PostHog`` dependency, login in dependencies, the thread pool, background tasks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

import posthog_web
from posthog_web import Client
from posthog_web.fastapi import PostHog
from posthog_web.inbox import InboxServer
from posthog_web.web.helper import NoopHelper, RequestHelper
from tests.asgi.apps import fastapi_app
from tests.asgi.helpers import BROWSER, pageviews, sent


def test_pageview_with_route_template_and_endpoint(client: Client, inbox: InboxServer) -> None:
    with TestClient(fastapi_app(client), headers=BROWSER) as http:
        assert http.get("/items/5").status_code == 200
        assert http.get("/openapi.json").status_code == 200  # JSON: not a page view
    (view,) = pageviews(client, inbox)
    assert view["properties"]["route"] == "/items/{item_id}"
    assert view["properties"]["view"].endswith("fastapi_app.<locals>.read_item")


def test_dependency_in_a_sync_endpoint_and_current(client: Client, inbox: InboxServer) -> None:
    with TestClient(fastapi_app(client), headers=BROWSER) as http:
        assert http.get("/sync").status_code == 200
        anon_id = http.cookies["ph_web_id"].split(".")[1]
    (event,) = sent(client, inbox, "sync_endpoint")
    assert event["distinct_id"] == anon_id


def test_login_in_a_dependency_attributes_the_request_to_the_user(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(fastapi_app(client), headers=BROWSER) as http:
        http.get("/")
        anon_id = http.cookies["ph_web_id"].split(".")[1]
        bought = http.post("/buy", headers={"x-user": "ada"}).json()
        assert bought == {"distinct_id": "ada"}
        http.get("/", headers={"x-user": "ada"})
        http.get("/", headers={"x-user": "ada"})
    (purchase,) = sent(client, inbox, "purchase_completed")
    assert purchase["distinct_id"] == "ada"
    assert purchase["properties"]["amount"] == 49
    assert purchase["properties"]["$process_person_profile"] is True
    assert [v["distinct_id"] for v in pageviews(client, inbox)] == [anon_id, "ada", "ada"]
    # The dependency logs in on every request; the browser is aliased only once.
    (alias,) = sent(client, inbox, "$create_alias")
    assert alias["properties"]["alias"] == anon_id


def test_background_task_sees_the_request_helper(client: Client, inbox: InboxServer) -> None:
    with TestClient(fastapi_app(client), headers=BROWSER) as http:
        distinct_id = http.get("/background").json()["distinct_id"]
    (event,) = sent(client, inbox, "background_done")
    assert event["distinct_id"] == distinct_id


def test_head_and_missing_middleware_give_a_noop_helper() -> None:
    app = FastAPI()
    seen: list[RequestHelper] = []

    @app.api_route("/", methods=["GET", "HEAD"])
    def home(posthog: PostHog) -> dict[str, bool]:
        seen.append(posthog)
        posthog.capture("nothing_happens")
        return {"ok": True}

    with TestClient(app) as http:
        assert http.get("/").json() == {"ok": True}
    assert isinstance(seen[0], NoopHelper)
    assert seen[0] is posthog_web.current()


def test_head_through_the_middleware_is_a_noop(client: Client, inbox: InboxServer) -> None:
    app = fastapi_app(client)
    seen: list[RequestHelper] = []

    @app.head("/probe")
    def probe(posthog: PostHog) -> None:
        seen.append(posthog)
        posthog.capture("nothing_happens")

    with TestClient(app, headers=BROWSER) as http:
        response = http.head("/probe")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
    assert isinstance(seen[0], NoopHelper)
    assert sent(client, inbox) == []
