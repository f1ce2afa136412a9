"""The ``posthog_events`` fixture with a Django app that has no API key (docs/testing.md)."""

from __future__ import annotations

from typing import Any

import pytest

from posthog_web.delivery.recorder import Recorder

pytestmark = pytest.mark.urls("tests.testing.django_shop")


@pytest.fixture(autouse=True)
def test_settings(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What an app's test settings usually hold: no API key, DEBUG off."""
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    settings.DEBUG = False
    settings.POSTHOG_WEB = {}


def test_purchase_is_tracked(client: Any, posthog_events: Recorder) -> None:
    client.get("/pricing/?utm_source=newsletter")
    client.post("/buy/")

    [pageview] = posthog_events.pageviews
    assert pageview["properties"]["$pathname"] == "/pricing/"
    assert pageview["properties"]["utm_source"] == "newsletter"
    [purchase] = posthog_events.named("purchase_completed")
    assert purchase["properties"]["amount"] == 49
    assert purchase["distinct_id"] == pageview["distinct_id"]  # the same anonymous visitor


def test_login_links_the_visitor_to_the_user(
    client: Any, django_user_model: Any, posthog_events: Recorder
) -> None:
    user = django_user_model.objects.create_user("ada", "ada@example.com", "s3cret-pw")
    client.get("/pricing/")
    anonymous_id = posthog_events.pageviews[0]["distinct_id"]

    client.post("/login/", {"username": "ada", "password": "s3cret-pw"})
    client.post("/buy/")

    [alias] = posthog_events.named("$create_alias")
    assert alias["properties"]["alias"] == anonymous_id
    user_events = [e["event"] for e in posthog_events.for_person(str(user.pk))]
    assert user_events == ["$create_alias", "$identify", "purchase_completed"]


@pytest.mark.anyio
async def test_async_requests_record_too(async_client: Any, posthog_events: Recorder) -> None:
    await async_client.get("/pricing/")
    assert len(posthog_events.pageviews) == 1


def test_without_the_fixture_nothing_is_recorded_or_sent(client: Any) -> None:
    from posthog_web.delivery import recorder as recording

    response = client.post("/buy/")
    assert response.status_code == 200  # request.posthog exists and does nothing
    assert "ph_web_id" not in response.cookies
    assert recording.active is None
