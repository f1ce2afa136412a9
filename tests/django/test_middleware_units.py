"""The middleware's adapters, one at a time (RequestFactory, no server)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, RequestFactory
from django.utils.functional import SimpleLazyObject

from posthog_web.django.middleware import PostHogMiddleware
from posthog_web.django.routes import route_view_name as _route_view_name
from posthog_web.django.users import _session_untouched
from posthog_web.django.users import user_async as _user_async
from posthog_web.django.users import user_sync as _user_sync
from posthog_web.web.environ_headers import EnvironHeaders as _MetaHeaders
from tests.django.conftest import Harness
from tests.django.helpers import COOKIE

pytestmark = pytest.mark.django_db


def test_meta_headers() -> None:
    headers = _MetaHeaders(
        {"HTTP_USER_AGENT": "ua", "CONTENT_TYPE": "text/plain", "HTTP_X_ODD": 5, "PATH_INFO": "/"}
    )
    assert headers["user-agent"] == "ua"
    assert headers.get("content-type") == "text/plain"
    assert headers.get("x-odd") is None
    assert headers.get("missing") is None
    assert sorted(headers) == ["content-type", "user-agent", "x-odd"]
    assert len(headers) == 3


def test_session_untouched_without_a_session() -> None:
    request = HttpRequest()
    with _session_untouched(request):
        pass


def test_flushed_session_keeps_its_marks() -> None:
    request = HttpRequest()
    session = SessionStore()
    session.create()
    request.session = session  # type: ignore[assignment]
    with _session_untouched(request):
        session.flush()
    assert session.modified


def test_sync_user_variants() -> None:
    request = HttpRequest()
    assert _user_sync(request) is None
    user = User(pk=1, username="ada")
    request.user = user
    assert _user_sync(request) is user
    request.user = AnonymousUser()
    assert _user_sync(request) is None
    evaluated = SimpleLazyObject(lambda: user)
    assert evaluated.is_authenticated
    request.user = evaluated  # type: ignore[assignment]
    assert _user_sync(request) is evaluated


@pytest.mark.anyio
async def test_async_user_variants() -> None:
    request = HttpRequest()
    assert await _user_async(request) is None
    request.user = SimpleLazyObject(lambda: AnonymousUser())  # type: ignore[assignment]
    assert await _user_async(request) is None  # never evaluated in the event loop
    user = User(pk=1, username="ada")
    request.user = user
    assert await _user_async(request) is user
    request.user = AnonymousUser()
    assert await _user_async(request) is None

    async def auser() -> Any:
        return AnonymousUser()

    request.auser = auser  # type: ignore[attr-defined]
    request._acached_user = AnonymousUser()  # type: ignore[attr-defined]
    assert await _user_async(request) is None
    assert hasattr(request, "_acached_user")  # it was cached before us: left alone


def test_route_view_name_without_a_match() -> None:
    assert _route_view_name(HttpRequest()) == (None, None, None)


class _Match:
    route = None
    url_name = None
    func = staticmethod(lambda request: None)


def test_route_view_name_of_a_lambda() -> None:
    request = HttpRequest()
    request.resolver_match = _Match()  # type: ignore[assignment]
    route, view, _name = _route_view_name(request)
    assert route is None
    assert view is not None
    assert view.endswith("<lambda>")


def test_the_view_may_set_the_cookie_itself(posthog: Harness) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        response = HttpResponse("<p>x</p>")
        response.set_cookie(COOKIE, "mine")
        return response

    request = RequestFactory().get("/")
    response = PostHogMiddleware(view)(request)
    assert response.cookies[COOKIE].value == "mine"


@pytest.mark.anyio
async def test_async_chain_when_disabled(
    settings: Any, monkeypatch: pytest.MonkeyPatch, async_client: AsyncClient
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    settings.POSTHOG_WEB = {}
    response = await async_client.get("/async/")
    assert response.status_code == 200
    assert COOKIE not in response.cookies


def test_a_broken_start_still_gives_request_posthog(
    posthog: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import posthog_web.django.middleware as middleware

    def broken(request: HttpRequest) -> Any:
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(middleware, "request_view", broken)
    response = Client().post("/buy/")
    assert response.status_code == 200
    assert response.json() == {"distinct_id": ""}
    assert "request start failed" in caplog.text


def test_a_view_annotated_with_the_typed_request_gets_the_helper(posthog: Harness) -> None:
    from posthog_web.django import PostHogHttpRequest
    from posthog_web.web.helper import RequestHelper

    assert issubclass(PostHogHttpRequest, HttpRequest)
    assert PostHogHttpRequest.__annotations__ == {"posthog": "RequestHelper"}
    seen: list[object] = []

    def view(request: PostHogHttpRequest) -> HttpResponse:
        seen.append(request.posthog)
        request.posthog.capture("typed view")
        return HttpResponse("<p>x</p>")

    PostHogMiddleware(view)(RequestFactory().get("/"))
    assert len(seen) == 1
    assert isinstance(seen[0], RequestHelper)
    assert len(posthog.events("typed view")) == 1
