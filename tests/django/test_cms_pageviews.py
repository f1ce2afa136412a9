"""Issue 13 as seen in a Wagtail site: one catch-all URL pattern for every page.

``title`` is the page's <title> (what posthog-js sends), the route name and the regex
route have their own properties, a hook naming every page forces nothing, and a plain
``fetch()`` of a page is not a page view.
"""

from __future__ import annotations

import pytest
from django.test import AsyncClient, Client

from tests.django.conftest import Harness

pytestmark = [pytest.mark.urls("tests.django.cms"), pytest.mark.django_db]

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
NAVIGATE = {
    "HTTP_USER_AGENT": CHROME,
    "HTTP_SEC_FETCH_DEST": "document",
    "HTTP_SEC_FETCH_MODE": "navigate",
}
CATCH_ALL = r"^((?:[\w\-]+/)*)$"


def test_pages_sharing_one_pattern_keep_their_own_titles(posthog: Harness, client: Client) -> None:
    posthog.configure(PERSON_PROFILES="always")
    for url in ("/", "/breads/", "/breads/sourdough/", "/about/"):
        assert client.get(url, **NAVIGATE).status_code == 200  # type: ignore[arg-type]
    views = posthog.pageviews()
    assert [v["properties"]["title"] for v in views] == [
        "cms: Welcome to the bakery",  # the hook's name wins over the <title>
        "cms: Breads & buns",
        "cms: Sourdough  \n  loaf",
        "cms: About <us>",
    ]
    for view in views:
        props = view["properties"]
        assert props["route_name"] == "wagtail_serve"
        assert props["route"] == CATCH_ALL  # a regex, sent as Django joined it: no "/"
        assert props["view"] == "tests.django.cms.serve"
    assert [v["properties"]["page_path"] for v in views] == [
        "",
        "breads/",
        "breads/sourdough/",
        "about/",
    ]


def test_without_a_hook_the_title_is_the_html_title(posthog: Harness, client: Client) -> None:
    client.get("/raw/breads/sourdough/", **NAVIGATE)  # type: ignore[arg-type]
    client.get("/raw/about/", **NAVIGATE)  # type: ignore[arg-type]
    sourdough, about = (v["properties"] for v in posthog.pageviews())
    assert sourdough["title"] == "Sourdough loaf"  # whitespace collapsed
    assert about["title"] == "About <us>"  # entities decoded
    assert "route_name" not in about  # an unnamed pattern
    # Django drops the "^" of a regex joined after a path() prefix.
    assert about["route"] == "/raw/(?P<path>[\\w/]*)$"


def test_a_namespaced_url_keeps_its_namespace(posthog: Harness, client: Client) -> None:
    client.get("/admin/images/", **NAVIGATE)  # type: ignore[arg-type]
    [view] = posthog.pageviews()
    assert view["properties"]["route_name"] == "wagtailadmin:index"
    assert view["properties"]["route"] == "/admin/images/"
    assert view["properties"]["title"] == "Images - Admin"


def test_bodies_without_a_readable_title(posthog: Harness, client: Client) -> None:
    posthog.configure(RECORD_PAGEVIEW=lambda request, response: True)
    for url in ("/huge/", "/untitled/", "/latin1/"):
        client.get(url, **NAVIGATE)  # type: ignore[arg-type]
    response = client.get("/streamed/", **NAVIGATE)  # type: ignore[arg-type]
    assert b"".join(response.streaming_content).startswith(b"<!doctype html>")  # type: ignore[attr-defined]
    huge, untitled, latin1, streamed = (v["properties"] for v in posthog.pageviews())
    assert "title" not in huge  # past the first KB: not read
    assert "title" not in untitled
    assert latin1["title"] == "Caf\u00e9 cr\u00e8me"
    assert "title" not in streamed  # a stream is never read


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"HTTP_USER_AGENT": "curl/8.5.0"}, id="curl"),
        pytest.param(
            {
                "HTTP_USER_AGENT": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            },
            id="googlebot",
        ),
        pytest.param({**NAVIGATE, "HTTP_SEC_PURPOSE": "prefetch"}, id="prefetch"),
        pytest.param({**NAVIGATE, "HTTP_HX_REQUEST": "true"}, id="htmx"),
        pytest.param(
            {
                "HTTP_USER_AGENT": CHROME,
                "HTTP_SEC_FETCH_DEST": "empty",
                "HTTP_SEC_FETCH_MODE": "cors",
            },
            id="plain-fetch",
        ),
        pytest.param(
            {
                "HTTP_USER_AGENT": CHROME,
                "HTTP_SEC_FETCH_DEST": "iframe",
                "HTTP_SEC_FETCH_MODE": "navigate",
            },
            id="iframe",
        ),
    ],
)
def test_a_hook_naming_every_page_forces_no_page_view(
    posthog: Harness, client: Client, headers: dict[str, str]
) -> None:
    assert client.get("/breads/?via=plain-fetch", **headers).status_code == 200  # type: ignore[arg-type]
    assert client.head("/breads/", **headers).status_code == 200  # type: ignore[arg-type]
    client.get("/breads/", **NAVIGATE)  # type: ignore[arg-type]  # the one real page view
    [view] = posthog.pageviews()
    assert view["properties"]["title"] == "cms: Breads & buns"


@pytest.mark.anyio
async def test_async_client_gets_titles_and_names(
    posthog: Harness, async_client: AsyncClient
) -> None:
    headers = {"user-agent": CHROME, "sec-fetch-dest": "document", "sec-fetch-mode": "navigate"}
    await async_client.get("/admin/images/", headers=headers)
    await async_client.get("/breads/", headers=headers)
    await async_client.get("/breads/", headers={**headers, "sec-fetch-dest": "empty"})
    admin, breads = (v["properties"] for v in posthog.pageviews())
    assert (admin["title"], admin["route_name"]) == ("Images - Admin", "wagtailadmin:index")
    assert (breads["title"], breads["route_name"]) == ("cms: Breads & buns", "wagtail_serve")
