"""The ``posthog_events`` fixture with a Flask app that has no API key (docs/testing.md)."""

from __future__ import annotations

import pytest
from flask import Flask, g

from posthog_web.delivery.recorder import Recorder
from posthog_web.flask import PostHog


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Flask:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    app = Flask(__name__)
    app.secret_key = "not-a-secret"
    posthog = PostHog(app)  # no API_KEY in tests: disabled (one warning), the fixture records

    @app.get("/pricing")
    def pricing() -> str:
        return "<!doctype html><title>Pricing</title><h1>Pricing</h1>"

    @app.post("/login")
    def login() -> str:
        posthog.login("user_42", {"email": "ada@example.com"})
        return "ok"

    @app.post("/buy")
    def buy() -> str:
        g.posthog.capture("purchase_completed", {"amount": 49})
        return "ok"

    return app


def test_purchase_is_tracked(app: Flask, posthog_events: Recorder) -> None:
    http = app.test_client()
    http.get("/pricing?utm_source=newsletter")
    http.post("/buy")
    http.post("/login")

    [pageview] = posthog_events.pageviews
    assert pageview["properties"]["$pathname"] == "/pricing"
    assert pageview["properties"]["utm_source"] == "newsletter"
    assert pageview["properties"]["title"] == "Pricing"
    [purchase] = posthog_events.named("purchase_completed")
    assert purchase["distinct_id"] == pageview["distinct_id"]  # the same anonymous visitor
    [alias] = posthog_events.named("$create_alias")
    assert alias["properties"]["alias"] == pageview["distinct_id"]
    assert [e["event"] for e in posthog_events.for_person("user_42")] == [
        "$create_alias",
        "$identify",
    ]
