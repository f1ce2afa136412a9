"""request.user is read only when an event needs the distinct id."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import middleware as auth_middleware
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client
from django.utils.functional import SimpleLazyObject, empty

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


def test_without_a_session_cookie_the_user_is_anonymous_unevaluated(
    posthog: Harness, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # django.contrib.auth keeps the user in the session: no session cookie, no user,
    # so the page view needs no authentication lookup.
    lookups: list[object] = []
    real_get_user = auth_middleware.get_user

    def counting_get_user(request: Any) -> Any:
        lookups.append(request)
        return real_get_user(request)

    monkeypatch.setattr(auth_middleware, "get_user", counting_get_user)
    client.get("/")
    [view] = posthog.pageviews()
    assert view["properties"]["$process_person_profile"] is False
    assert lookups == []
    client.get("/user/")  # a view reading request.user still gets it
    assert len(lookups) == 1


def test_a_logged_in_user_is_still_read_on_a_page_view(posthog: Harness, client: Client) -> None:
    ada = User.objects.create_user("ada", password="pw-ada")
    assert client.login(username="ada", password="pw-ada")
    client.get("/")
    [view] = posthog.pageviews()
    assert view["distinct_id"] == str(ada.pk)


class _TokenUserMiddleware:
    """A lazy user of another origin (a token header), with no session at all."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        def token_user() -> Any:
            token = request.headers.get("x-token")
            return User.objects.get(username=token) if token else AnonymousUser()

        request.user = SimpleLazyObject(token_user)
        return self.get_response(request)


def test_a_lazy_user_from_another_middleware_is_evaluated(
    posthog: Harness, client: Client, settings: Any
) -> None:
    ada = User.objects.create_user("ada", password="pw-ada")
    middleware = list(settings.MIDDLEWARE)
    ours = middleware.index("posthog_web.django.PostHogMiddleware")
    middleware.insert(ours, f"{__name__}._TokenUserMiddleware")
    settings.MIDDLEWARE = middleware
    client.get("/", headers={"x-token": "ada"})
    [view] = posthog.pageviews()
    assert view["distinct_id"] == str(ada.pk)
