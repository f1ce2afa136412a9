"""Group journeys through the Django middleware (sync and async), checked at the inbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.django.conftest import Harness

pytestmark = [pytest.mark.urls("tests.django.groups_urls"), pytest.mark.django_db]

GROUPS = "tests.django.groups_urls.workspace_groups"


def _by_event(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        out.setdefault(event["event"], []).append(event)
    return out


def test_sync_group_journey(posthog: Harness, client: Client) -> None:
    posthog.configure(GROUPS=GROUPS)
    user = User.objects.create_user("ann", password="x")
    client.force_login(user)
    client.get("/w/docs/")
    client.get("/w/docs/")
    events = _by_event(posthog.events())
    both = {"company": "acme", "workspace": "docs"}
    assert [e["properties"]["$groups"] for e in events["$pageview"]] == [both, both]
    assert events["report viewed"][0]["properties"]["$groups"] == both
    # Sent once: the second request's properties had not changed.
    assert len(events["$groupidentify"]) == 1
    identify = events["$groupidentify"][0]
    assert identify["distinct_id"] == str(user.pk)
    assert identify["properties"]["$group_set"] == {"name": "Acme"}
    assert events["$set"][0]["$set"] == {"plan": "pro"}
    assert events["$set"][0]["distinct_id"] == str(user.pk)


def test_anonymous_visitor_groups_are_sent_personless_and_no_set(
    posthog: Harness, client: Client
) -> None:
    posthog.configure(GROUPS=GROUPS)
    client.get("/w/docs/")
    events = _by_event(posthog.events())
    view = events["$pageview"][0]
    assert view["properties"]["$process_person_profile"] is False
    assert view["properties"]["$groups"] == {"company": "acme", "workspace": "docs"}
    assert "$set" not in events  # PostHog ignores person properties of personless events
    # The group's properties still go, under the group's own id, not a new person.
    assert events["$groupidentify"][0]["distinct_id"] == "$company_acme"


def test_a_failing_groups_callable_is_logged_not_raised(posthog: Harness, client: Client) -> None:
    posthog.configure(GROUPS=lambda request: {"company": ""})
    assert client.get("/w/docs/").status_code == 200
    view = posthog.pageviews()[0]
    assert view["properties"]["$groups"] == {"company": "acme"}  # group() still applies


@pytest.mark.anyio
async def test_async_group_journey(posthog: Harness, async_client: AsyncClient) -> None:
    posthog.configure(GROUPS=GROUPS)
    await async_client.get("/aw/docs/")
    view = posthog.pageviews()[0]
    assert view["properties"]["$groups"] == {"company": "acme", "workspace": "docs"}


def test_the_inbox_shows_the_group_with_its_properties_and_person(
    posthog: Harness, client: Client
) -> None:
    import requests

    posthog.configure(GROUPS=GROUPS)
    client.force_login(User.objects.create_user("bob", password="x"))
    client.get("/w/docs/")
    client.get("/w/docs/")
    stored = posthog.events()
    found = requests.get(f"{posthog.inbox.url}/api/view/groups", timeout=5).json()
    by_key = {(g["type"], g["key"]): g for g in found["groups"]}
    acme = by_key[("company", "acme")]
    assert acme["properties"] == {"name": "Acme"}
    assert len(acme["persons"]) == 1
    grouped = [e for e in stored if "company" in e["properties"].get("$groups", {})]
    assert {e["event"] for e in grouped} >= {"$pageview", "report viewed", "$set"}
    assert acme["events"] == len(grouped)
    assert by_key[("workspace", "docs")]["properties"] == {}
    page = requests.get(
        f"{posthog.inbox.url}/group", params={"type": "company", "key": "acme"}, timeout=5
    )
    assert page.status_code == 200
    assert "Acme" in page.text
