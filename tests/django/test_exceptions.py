"""Error tracking in the Django middleware and DRF: what the inbox received."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

from tests.django.conftest import Harness
from tests.django.error_views import CheckoutError
from tests.django.helpers import BROWSER_UA, anon_id_of

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.django.error_views")]

DRF_HANDLER = {"EXCEPTION_HANDLER": "posthog_web.django.drf.exception_handler"}


def _exceptions(posthog: Harness) -> list[dict[str, Any]]:
    return posthog.events("$exception")


def test_a_failing_view_sends_one_exception_with_the_request_context(posthog: Harness) -> None:
    client = Client(raise_request_exception=False)
    first = client.get("/handled/?token=s3cret&q=1", HTTP_USER_AGENT=BROWSER_UA)
    anon_id = anon_id_of(first)
    [pageview] = posthog.pageviews()
    manual = _exceptions(posthog)

    response = client.get("/orders/7/fail/?token=s3cret&q=1", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 500  # Django's own 500 page, unchanged

    events = [e for e in _exceptions(posthog) if e not in manual]
    [event] = events
    props = event["properties"]
    assert event["distinct_id"] == anon_id
    assert props["$session_id"] == pageview["properties"]["$session_id"]
    assert "s3cret" not in json.dumps(event)
    assert props["$current_url"].startswith("http://testserver/orders/7/fail/?token=")
    assert props["$pathname"] == "/orders/7/fail/"
    assert props["$request_method"] == "GET"
    assert props["route"] == "/orders/<int:order>/fail/"
    assert props["route_name"] == "fails"
    assert props["view"] == "tests.django.error_views.fails"
    assert props["$response_status"] == 500
    assert props["$ip"] == "127.0.0.1"
    assert props["$exception_source"] == "django.middleware"
    assert props["$exception_level"] == "error"
    [entry] = props["$exception_list"]
    assert entry["type"] == "CheckoutError"
    assert entry["value"] == "order 7 failed"
    assert entry["mechanism"]["type"] == "middleware"
    assert entry["mechanism"]["handled"] is False
    frames = entry["stacktrace"]["frames"]
    assert frames[-1]["function"] == "fails"
    assert frames[-1]["in_app"] is True
    # Nothing a page view may not carry: no headers, cookies or bodies.
    cookie = first.cookies["ph_web_id"].value
    assert cookie not in json.dumps(event)
    assert not any("cookie" in key.lower() or "header" in key.lower() for key in props)


def test_the_exception_still_reaches_the_test_client(posthog: Harness) -> None:
    client = Client()  # raise_request_exception=True: Django re-raises the view's error
    with pytest.raises(CheckoutError, match="order 3 failed"):
        client.get("/orders/3/fail/", HTTP_USER_AGENT=BROWSER_UA)
    [event] = _exceptions(posthog)
    assert event["properties"]["$exception_list"][0]["value"] == "order 3 failed"


def test_a_logged_in_user_gets_the_exception_on_their_person(posthog: Harness) -> None:
    user = User.objects.create_user("ada", "ada@example.com", "pw")
    client = Client(raise_request_exception=False)
    client.force_login(user)
    assert client.get("/orders/1/fail/", HTTP_USER_AGENT=BROWSER_UA).status_code == 500
    [event] = _exceptions(posthog)
    assert event["distinct_id"] == str(user.pk)
    assert event["properties"]["$process_person_profile"] is True


@pytest.mark.anyio
async def test_an_async_view_is_captured_too(posthog: Harness) -> None:
    client = AsyncClient(raise_request_exception=False)
    response = await client.get("/async-fail/", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 500
    [event] = _exceptions(posthog)
    assert event["properties"]["$exception_list"][0]["value"] == "async order failed"
    assert event["properties"]["$response_status"] == 500


@pytest.mark.anyio
async def test_a_sync_view_under_the_async_handler(posthog: Harness) -> None:
    client = AsyncClient(raise_request_exception=False)
    assert (await client.get("/orders/5/fail/")).status_code == 500
    [event] = _exceptions(posthog)
    assert event["properties"]["route"] == "/orders/<int:order>/fail/"


def test_an_exception_that_cannot_be_printed_still_gives_a_valid_event(
    posthog: Harness,
) -> None:
    client = Client(raise_request_exception=False)
    assert client.get("/exotic/").status_code == 500
    [event] = _exceptions(posthog)  # the inbox validates $exception like PostHog
    assert event["properties"]["$exception_list"][0]["type"] == "Unprintable"


def test_an_inner_middleware_s_exception_is_sent_once(posthog: Harness, settings: Any) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.django.error_views.FailingMiddleware"]
    client = Client(raise_request_exception=False)
    assert client.get("/handled/").status_code == 500
    assert client.get("/orders/4/fail/").status_code == 500  # a view's: still once
    first, second = _exceptions(posthog)
    assert first["properties"]["$exception_list"][0]["value"] == "the middleware failed"
    assert first["properties"]["$response_status"] == 500
    assert second["properties"]["$exception_list"][0]["value"] == "order 4 failed"


@pytest.mark.parametrize(("path", "status"), [("/missing/", 404), ("/forbidden/", 403)])
def test_4xx_exceptions_are_not_errors(posthog: Harness, path: str, status: int) -> None:
    client = Client(raise_request_exception=False)
    assert client.get(path, HTTP_USER_AGENT=BROWSER_UA).status_code == status
    assert _exceptions(posthog) == []


def test_capture_exceptions_false_and_ignore_exceptions(posthog: Harness) -> None:
    client = Client(raise_request_exception=False)
    posthog.configure(CAPTURE_EXCEPTIONS=False)
    assert client.get("/orders/1/fail/").status_code == 500
    posthog.configure(IGNORE_EXCEPTIONS=["tests.django.error_views.CheckoutError"])
    assert client.get("/orders/2/fail/").status_code == 500
    assert _exceptions(posthog) == []
    posthog.configure(IGNORE_EXCEPTIONS=[KeyError])
    assert client.get("/orders/3/fail/").status_code == 500
    assert [e["properties"]["$exception_list"][0]["value"] for e in _exceptions(posthog)] == [
        "order 3 failed"
    ]


def test_the_request_helper_and_current(posthog: Harness) -> None:
    client = Client()
    secret = "hun" + "ter2"  # not in source: the synthetic stack shows this line
    response = client.get(f"/handled/?password={secret}", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 200
    anon_id = anon_id_of(response)
    [pageview] = posthog.pageviews()
    first, second = _exceptions(posthog)
    for event in (first, second):
        props = event["properties"]
        assert event["distinct_id"] == anon_id
        assert props["$session_id"] == pageview["properties"]["$session_id"]
        assert props["route"] == "/handled/"
        assert props["$request_method"] == "GET"
        assert secret not in json.dumps(event)
        assert "$exception_source" not in props
        assert props["$exception_list"][0]["mechanism"] == {
            **props["$exception_list"][0]["mechanism"],
            "type": "generic",
            "handled": True,
        }
    assert first["properties"]["form"] == "checkout"
    assert first["properties"]["$exception_list"][0]["type"] == "ValueError"
    assert second["properties"]["$exception_list"][0]["value"] == "via current()"
    assert second["properties"]["$exception_list"][0]["mechanism"]["synthetic"] is True


def test_code_variables_and_in_app(posthog: Harness) -> None:
    posthog.configure(CAPTURE_CODE_VARIABLES=True, IN_APP=["tests.django"])
    client = Client(raise_request_exception=False)
    assert client.get("/orders/9/fail/").status_code == 500
    [event] = _exceptions(posthog)
    frames = event["properties"]["$exception_list"][0]["stacktrace"]["frames"]
    assert frames[-1]["code_variables"]["order"] == 9
    assert all(not f["in_app"] for f in frames[:-1])


def test_a_failing_deploy_is_held_to_the_flood_limit(posthog: Harness) -> None:
    # Each message differs ("order N failed"); one stack, one bucket (docs/errors.md).
    client = Client(raise_request_exception=False)
    for order in range(14):
        assert client.get(f"/orders/{order}/fail/").status_code == 500
    events = _exceptions(posthog)
    assert len(events) == 10
    assert all("$exception_suppressed_count" not in e["properties"] for e in events)


def test_bad_settings_are_refused(posthog: Harness) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from posthog_web.django.conf import build

    with pytest.raises(ImproperlyConfigured, match="CAPTURE_EXCEPTIONS"):
        build({"CLIENT": posthog.client, "CAPTURE_EXCEPTIONS": "yes"})
    with pytest.raises(ImproperlyConfigured, match="ignore_exceptions"):
        build({"CLIENT": posthog.client, "IGNORE_EXCEPTIONS": ["NotDotted"]})


def test_drf_api_exception_5xx_is_captured_by_the_handler(posthog: Harness, settings: Any) -> None:
    settings.REST_FRAMEWORK = DRF_HANDLER
    client = Client(raise_request_exception=False)
    response = client.get("/api/fails/", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 500
    assert response.json() == {"detail": "the upstream API failed"}  # DRF's answer
    assert client.get("/api/missing/").status_code == 404
    assert client.get("/api/crashes/").status_code == 500
    fails, crashes = _exceptions(posthog)
    props = fails["properties"]
    assert props["$exception_source"] == "django_rest_framework.exception_handler"
    assert props["$exception_list"][0]["type"] == "APIException"
    assert props["$exception_list"][0]["mechanism"]["handled"] is True
    assert props["$response_status"] == 500
    assert crashes["properties"]["$exception_source"] == "django.middleware"
    assert crashes["properties"]["$exception_list"][0]["type"] == "KeyError"


def test_drf_without_the_handler_loses_only_api_exceptions(posthog: Harness, settings: Any) -> None:
    settings.REST_FRAMEWORK = {}
    client = Client(raise_request_exception=False)
    assert client.get("/api/fails/").status_code == 500
    assert _exceptions(posthog) == []


def test_wrap_exception_handler_checks_its_argument() -> None:
    from posthog_web.django.drf import wrap_exception_handler

    with pytest.raises(TypeError, match="handler must be callable"):
        wrap_exception_handler("rest_framework.views.exception_handler")  # type: ignore[arg-type]
