"""request.user is read only when an event needs the distinct id."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils.functional import empty

from tests.django.conftest import Harness

pytestmark = pytest.mark.django_db


def test_a_request_recording_nothing_never_evaluates_the_user(
    posthog: Harness, client: Client
) -> None:
    User.objects.create_user("ada", password="pw-ada")
    assert client.login(username="ada", password="pw-ada")
    response = client.get("/api/")
    request = response.wsgi_request
    assert request.user._wrapped is empty  # type: ignore[attr-defined]
    assert not request.session.accessed
    assert posthog.events() == []


def test_an_event_in_the_view_reads_the_user_then(posthog: Harness, client: Client) -> None:
    ada = User.objects.create_user("ada", password="pw-ada")
    assert client.login(username="ada", password="pw-ada")
    assert client.post("/buy/").json() == {"distinct_id": str(ada.pk)}
    client.get("/")
    [purchase] = posthog.events("purchase_completed")
    assert purchase["distinct_id"] == str(ada.pk)
    [view] = posthog.pageviews()
    assert view["distinct_id"] == str(ada.pk)
