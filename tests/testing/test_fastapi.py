"""The ``posthog_events`` fixture with a FastAPI app that has no API key (docs/testing.md)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from posthog_web.asgi import PostHogMiddleware
from posthog_web.delivery.recorder import Recorder
from posthog_web.fastapi import PostHog

app = FastAPI()
# No api_key in tests: disabled (one warning), but the fixture still records.
app.add_middleware(PostHogMiddleware, secret_key="not-a-secret")


@app.get("/pricing", response_class=HTMLResponse)
def pricing() -> str:
    return "<!doctype html><title>Pricing</title><h1>Pricing</h1>"


@app.post("/login")
def login(posthog: PostHog) -> dict[str, bool]:
    posthog.login("user_42", {"email": "ada@example.com"})
    return {"ok": True}


@app.post("/buy")
def buy(posthog: PostHog) -> dict[str, bool]:
    posthog.capture("purchase_completed", {"amount": 49})
    return {"ok": True}


def test_purchase_is_tracked(posthog_events: Recorder) -> None:
    with TestClient(app) as http:
        http.get("/pricing?utm_source=newsletter")
        http.post("/buy")

    [pageview] = posthog_events.pageviews
    assert pageview["properties"]["$pathname"] == "/pricing"
    assert pageview["properties"]["utm_source"] == "newsletter"
    [purchase] = posthog_events.named("purchase_completed")
    assert purchase["properties"]["amount"] == 49
    assert purchase["distinct_id"] == pageview["distinct_id"]  # the same anonymous visitor


def test_login_links_the_visitor_to_the_user(posthog_events: Recorder) -> None:
    with TestClient(app) as http:
        http.get("/pricing")
        anonymous_id = posthog_events.pageviews[0]["distinct_id"]
        http.post("/login")

    [alias] = posthog_events.named("$create_alias")
    assert alias["properties"]["alias"] == anonymous_id
    [identify] = posthog_events.named("$identify")
    assert identify["$set"] == {"email": "ada@example.com"}
    user_events = [e["event"] for e in posthog_events.for_person("user_42")]
    assert user_events == ["$create_alias", "$identify"]


def test_without_the_fixture_nothing_is_recorded() -> None:
    from posthog_web.delivery import recorder as recording

    with TestClient(app) as http:
        response = http.post("/buy")
    assert response.json() == {"ok": True}
    assert "ph_web_id" not in response.cookies
    assert recording.active is None
