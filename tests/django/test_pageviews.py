"""Page views recorded by the Django middleware, as the inbox received them."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import AsyncClient, Client

from posthog_web.events import is_uuid7
from tests.django.conftest import Harness
from tests.django.helpers import BROWSER_UA, COOKIE, anon_id_of

pytestmark = pytest.mark.django_db


def test_anonymous_page_view_sync(posthog: Harness, client: Client) -> None:
    response = client.get("/", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 200
    assert response.content.startswith(b"<!doctype html>")
    anon_id = anon_id_of(response)
    assert is_uuid7(anon_id)

    [event] = posthog.pageviews()
    props = event["properties"]
    assert event["distinct_id"] == anon_id
    assert props["$current_url"] == "http://testserver/"
    assert props["$host"] == "testserver"
    assert props["$pathname"] == "/"
    assert props["$referrer"] == props["$referring_domain"] == "$direct"
    assert props["$raw_user_agent"] == BROWSER_UA
    assert props["$ip"] == "127.0.0.1"
    assert props["$pageview_id"] == event["uuid"]
    assert props["$process_person_profile"] is False
    assert props["title"] == "t"  # the page's <title>
    assert props["route_name"] == "home"
    assert props["route"] == "/"
    assert props["view"] == "tests.django.views.home"
    assert props["$lib"] == "posthog-web"
    assert is_uuid7(props["$session_id"])


def test_cookie_attributes(posthog: Harness, client: Client) -> None:
    cookie = client.get("/").cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 365 * 24 * 3600
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    secure = client.get("/", secure=True).cookies
    assert COOKIE not in secure  # the first cookie is reused
    fresh = Client().get("/", secure=True).cookies[COOKIE]
    assert fresh["secure"] is True
    # Max-Age alone, as the ASGI middleware sends it (no Expires date).
    assert "expires" not in fresh.output().lower()


def test_cookie_domain_and_the_opt_out_expiry(posthog: Harness, client: Client) -> None:
    posthog.configure(COOKIE_DOMAIN=".example.com")
    cookie = client.get("/").cookies[COOKIE]
    assert cookie["domain"] == ".example.com"
    # posthog-js's opt-out cookie: ours is expired at once, with Max-Age=0.
    client.cookies["__ph_opt_in_out_phc_test"] = "0"
    expired = client.get("/").cookies[COOKIE]
    assert expired.value == ""
    assert expired["max-age"] == 0
    assert expired["domain"] == ".example.com"


def test_anonymous_visitor_gets_no_vary_cookie_and_no_session(
    posthog: Harness, client: Client
) -> None:
    # The first response sets the new anonymous cookie, so it varies on Cookie and is
    # private (issue 13, item 6); reading the session adds nothing to that.
    first = client.get("/")
    assert first.get("Vary") == "Cookie"
    assert first.get("Cache-Control") == "private"
    assert "sessionid" not in first.cookies
    for _ in range(2):
        response = client.get("/")
        assert "Cookie" not in response.get("Vary", "")
        assert "Cache-Control" not in response
        assert "sessionid" not in response.cookies
    assert Session.objects.count() == 0
    assert len(posthog.pageviews()) == 3


@pytest.mark.parametrize("path", ["/session/", "/user/"])
def test_views_that_use_the_session_still_vary_on_cookie(
    posthog: Harness, client: Client, path: str
) -> None:
    response = client.get(path)
    assert "Cookie" in response.get("Vary", "")


@pytest.mark.anyio
async def test_async_view_that_uses_the_user_varies_on_cookie(
    posthog: Harness, async_client: AsyncClient
) -> None:
    response = await async_client.get("/async-user/")
    assert "Cookie" in response.get("Vary", "")
    assert b"False" in response.content


@pytest.mark.anyio
async def test_async_view_under_async_client(posthog: Harness, async_client: AsyncClient) -> None:
    response = await async_client.get("/async/", headers={"user-agent": BROWSER_UA})
    assert response.status_code == 200
    # Only the new cookie makes it vary on Cookie: reading the user did not.
    assert response.get("Vary") == "Cookie"
    again = await async_client.get("/async/", headers={"user-agent": BROWSER_UA})
    assert "Cookie" not in again.get("Vary", "")
    [event, _] = posthog.pageviews()
    assert event["distinct_id"] == anon_id_of(response)
    assert event["properties"]["title"] == "t"
    assert event["properties"]["route_name"] == "async-home"
    assert event["properties"]["route"] == "/async/"


@pytest.mark.anyio
async def test_sync_view_under_async_client(posthog: Harness, async_client: AsyncClient) -> None:
    response = await async_client.get("/products/7/")
    [event] = posthog.pageviews()
    assert event["distinct_id"] == anon_id_of(response)
    assert event["properties"]["route"] == "/products/<int:pk>/"


def test_route_view_and_title(posthog: Harness, client: Client) -> None:
    client.get("/products/42/")
    client.get("/pricing/")
    product, pricing = posthog.pageviews()
    assert product["properties"]["route"] == "/products/<int:pk>/"
    assert product["properties"]["title"] == "t"
    assert product["properties"]["route_name"] == "product"
    assert product["properties"]["$pathname"] == "/products/42/"
    assert pricing["properties"]["view"] == "tests.django.views.PricingView"


def test_a_page_gzipped_below_the_middleware_keeps_its_title(
    posthog: Harness, client: Client, settings: Any
) -> None:
    # GZipMiddleware listed after PostHogMiddleware compresses the body before this
    # middleware sees it; the <title> is read from the compressed body.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]
    response = client.get("/long-page/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    (view,) = posthog.pageviews()
    assert view["properties"]["title"] == "A long page"


def test_a_revisit_answered_304_is_a_page_view(
    posthog: Harness, client: Client, settings: Any
) -> None:
    # ConditionalGetMiddleware below this one answers the revalidation: the browser
    # shows its cached copy, which posthog-js would count as a page view too.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.http.ConditionalGetMiddleware"]
    navigate = {"HTTP_SEC_FETCH_DEST": "document", "HTTP_SEC_FETCH_MODE": "navigate"}
    first = client.get("/products/42/", **navigate)  # type: ignore[arg-type]
    etag = first["ETag"]
    again = client.get("/products/42/", HTTP_IF_NONE_MATCH=etag, **navigate)  # type: ignore[arg-type]
    assert again.status_code == 304
    image = client.get(  # type: ignore[arg-type]
        "/products/42/", HTTP_IF_NONE_MATCH=etag, HTTP_SEC_FETCH_DEST="image"
    )
    assert image.status_code == 304
    shown, revisited = posthog.pageviews()
    assert shown["properties"]["title"] == "t"
    assert revisited["properties"]["$pathname"] == "/products/42/"
    assert revisited["properties"]["route"] == "/products/<int:pk>/"
    assert "title" not in revisited["properties"]  # no body to read it from


def test_referrer_campaign_and_click_ids(posthog: Harness, client: Client) -> None:
    client.get(
        "/?utm_source=news&utm_campaign=spring&gclid=abc&other=1",
        HTTP_REFERER="https://www.google.com/search?q=x",
    )
    [event] = posthog.pageviews()
    props = event["properties"]
    assert (
        props["$current_url"]
        == "http://testserver/?utm_source=news&utm_campaign=spring&gclid=abc&other=1"
    )
    assert props["$referrer"] == "https://www.google.com/search?q=x"
    assert props["$referring_domain"] == "www.google.com"
    assert props["utm_source"] == "news"
    assert props["utm_campaign"] == "spring"
    assert props["gclid"] == "abc"
    assert "other" not in props


def test_returning_visitor_keeps_its_id(posthog: Harness, client: Client) -> None:
    first = client.get("/")
    second = client.get("/pricing/")
    assert COOKIE not in second.cookies
    ids = {event["distinct_id"] for event in posthog.pageviews()}
    assert ids == {anon_id_of(first)}


def test_a_tampered_cookie_is_replaced(posthog: Harness, client: Client) -> None:
    first = client.get("/")
    value = first.cookies[COOKIE].value
    client.cookies[COOKIE] = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    second = client.get("/")
    assert anon_id_of(second) != anon_id_of(first)


SKIPPED: list[tuple[str, str, dict[str, Any]]] = [
    ("post", "/", {}),
    ("head", "/", {}),
    ("get", "/redirect/", {}),
    ("get", "/error/", {}),
    ("get", "/missing/", {}),
    ("get", "/api/", {}),
    ("get", "/stream/", {}),
    ("get", "/", {"HTTP_HX_REQUEST": "true"}),
    ("get", "/", {"HTTP_TURBO_FRAME": "main"}),
    ("get", "/", {"HTTP_X_UP_TARGET": ".content"}),
    ("get", "/", {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}),
    ("get", "/", {"HTTP_SEC_PURPOSE": "prefetch"}),
    ("get", "/", {"HTTP_SEC_PURPOSE": "prefetch;prerender"}),
    ("get", "/", {"HTTP_PURPOSE": "prefetch"}),
    ("get", "/", {"HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Googlebot/2.1)"}),
    ("get", "/", {"HTTP_USER_AGENT": "curl/8.5.0"}),
    ("get", "/", {"HTTP_USER_AGENT": "python-requests/2.32"}),
    ("get", "/static/app.html", {}),
    ("get", "/media/upload.html", {}),
    ("get", "/health/", {}),
    ("get", "/robots.txt", {}),
    ("get", "/favicon.ico", {}),
    ("get", "/sitemap.xml", {}),
    ("get", "/.well-known/security.txt", {}),
]


@pytest.mark.parametrize(("method", "path", "extra"), SKIPPED)
def test_not_a_page_view(
    posthog: Harness, client: Client, method: str, path: str, extra: dict[str, Any]
) -> None:
    response = getattr(client, method)(path, **extra)
    assert COOKIE not in response.cookies  # the id was never used, so never set
    assert posthog.pageviews() == []


def test_streaming_response_is_not_consumed(posthog: Harness, client: Client) -> None:
    response = client.get("/stream/")
    assert response.streaming
    assert b"".join(response.streaming_content) == b"<!doctype html><p>streamed</p>"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "extra",
    [
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_BOOSTED": "true"},
        {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"},
    ],
)
def test_htmx_full_page_navigations_count(
    posthog: Harness, client: Client, extra: dict[str, str]
) -> None:
    client.get("/", **extra)
    assert len(posthog.pageviews()) == 1


def test_user_exclude_and_include_patterns(posthog: Harness, client: Client) -> None:
    posthog.configure(EXCLUDE_PATHS=[r"^/admin-area/"])
    client.get("/admin-area/")
    client.get("/pricing/")
    assert [e["properties"]["$pathname"] for e in posthog.pageviews()] == ["/pricing/"]
    posthog.configure(INCLUDE_PATHS=[r"^/products/"])
    client.get("/pricing/")
    client.get("/products/1/")
    paths = [e["properties"]["$pathname"] for e in posthog.pageviews()]
    assert paths == ["/pricing/", "/products/1/"]


def allow_api(request: Any, response: Any) -> bool | None:
    if request.path == "/api/":
        return True
    if request.path == "/pricing/":
        return False
    return None


def test_record_pageview_predicate_overrides(posthog: Harness, client: Client) -> None:
    posthog.configure(RECORD_PAGEVIEW="tests.django.test_pageviews.allow_api")
    client.get("/api/")
    client.get("/pricing/")
    client.get("/")
    assert [e["properties"]["$pathname"] for e in posthog.pageviews()] == ["/api/", "/"]


def test_failing_predicate_leaves_the_response_alone(
    posthog: Harness, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(request: Any, response: Any) -> bool:
        raise ZeroDivisionError

    posthog.configure(RECORD_PAGEVIEW=broken)
    response = client.get("/")
    assert response.status_code == 200
    assert response.content.startswith(b"<!doctype html>")
    assert "page view failed" in caplog.text
    assert posthog.pageviews() == []


def test_view_names_its_page(posthog: Harness, client: Client) -> None:
    client.get("/named/")
    [event] = posthog.pageviews()
    assert event["properties"]["title"] == "Named page"
    assert event["properties"]["plan"] == "pro"


def test_second_page_call_records_an_extra_page_view(posthog: Harness, client: Client) -> None:
    client.get("/named-twice/")
    titles = sorted(e["properties"]["title"] for e in posthog.pageviews())
    assert titles == ["First", "Second"]


def test_page_call_forces_a_page_view(posthog: Harness, client: Client) -> None:
    client.get("/forced/")
    [event] = posthog.pageviews()
    assert "title" not in event["properties"]
    assert event["properties"]["$pathname"] == "/forced/"


def test_person_profiles_always(posthog: Harness, client: Client) -> None:
    posthog.configure(PERSON_PROFILES="always")
    client.get("/")
    [event] = posthog.pageviews()
    assert event["properties"]["$process_person_profile"] is True


def test_disallowed_host_is_not_tracked(posthog: Harness, client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["example.com"]
    posthog.configure()
    response = client.get("/", HTTP_HOST="evil.example")
    # Nothing else here validates the host, so the view answers; we just do not track it.
    assert response.status_code == 200
    assert COOKIE not in response.cookies
    assert posthog.pageviews() == []
    # The validation is remembered per Host header, and forgotten when the settings change.
    assert COOKIE not in client.get("/", HTTP_HOST="evil.example").cookies
    client.get("/", HTTP_HOST="example.com")
    assert len(posthog.pageviews()) == 1
    settings.ALLOWED_HOSTS = ["evil.example"]
    client.get("/", HTTP_HOST="evil.example")
    assert [e["properties"]["$host"] for e in posthog.pageviews()] == [
        "example.com",
        "evil.example",
    ]
    client.get("/", HTTP_HOST="example.com")
    assert len(posthog.pageviews()) == 2


def test_a_failing_view_unbinds_the_helper(posthog: Harness, settings: Any) -> None:
    import posthog_web
    from posthog_web.web.helper import NoopHelper

    response = Client(raise_request_exception=False).get("/boom/")
    assert response.status_code == 500
    assert isinstance(posthog_web.current(), NoopHelper)
    assert posthog.pageviews() == []
