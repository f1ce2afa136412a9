"""The page view decision and page view properties (framework-neutral)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from posthog_web.web import RequestView, ResponseView
from posthog_web.web.bots import BotMatcher
from posthog_web.web.pageviews import (
    PageviewRules,
    is_not_document_load,
    is_page_response,
    is_partial_page_request,
    is_prefetch,
)
from posthog_web.web.privacy import URLMasker
from posthog_web.web.properties import (
    RequestProperties,
    campaign_properties,
    pageview_properties,
    raw_user_agent,
    referrer_properties,
)

HTML = ResponseView(200, "text/html; charset=utf-8")


def request(path: str = "/", method: str = "GET", **headers: str) -> RequestView:
    return RequestView(
        method=method,
        scheme="https",
        host="shop.example.com",
        path=path,
        query_string="",
        headers={k.replace("_", "-"): v for k, v in headers.items()},
        cookies={},
    )


def test_default_page_view() -> None:
    rules = PageviewRules()
    assert rules.is_pageview(request(), HTML)
    assert rules.is_pageview(request(), ResponseView(204, "application/xhtml+xml"))


@pytest.mark.parametrize(
    ("req", "resp"),
    [
        (request(method="POST"), HTML),
        (request(method="HEAD"), HTML),
        (request(), ResponseView(302, "text/html")),
        (request(), ResponseView(304, "text/html")),
        (request(), ResponseView(500, "text/html")),
        (request(), ResponseView(200, "application/json")),
        (request(), ResponseView(200, None)),
        (request(), ResponseView(200, "text/html", streaming=True)),
        (request("/healthz"), HTML),
        (request("/readyz/"), HTML),
        (request("/robots.txt"), HTML),
        (request("/sitemap-products.xml"), HTML),
        (request("/.well-known/change-password"), HTML),
        (request(hx_request="true"), HTML),
        (request(turbo_frame="x"), HTML),
        (request(x_up_target="body"), HTML),
        (request(x_requested_with="XMLHttpRequest"), HTML),
        (request(sec_purpose="prefetch"), HTML),
        (request(purpose="prefetch"), HTML),
        (request(x_moz="prefetch"), HTML),
        (request(user_agent="Googlebot/2.1"), HTML),
    ],
)
def test_not_page_views(req: RequestView, resp: ResponseView) -> None:
    assert not PageviewRules(bots=BotMatcher(["googlebot"])).is_pageview(req, resp)


def test_htmx_navigations() -> None:
    assert is_partial_page_request({"hx-request": "true", "hx-boosted": "false"})
    assert not is_partial_page_request({"hx-request": "true", "hx-boosted": " True "})
    assert not is_partial_page_request({"hx-request": "true", "hx-history-restore-request": "TRUE"})
    assert not is_partial_page_request({"x-requested-with": "fetch"})
    assert not is_prefetch({"sec-purpose": "navigate"})


# What Chromium sends (Fetch Metadata): a navigation, a fetch(), an iframe, an image...
NAVIGATION = {"sec_fetch_dest": "document", "sec_fetch_mode": "navigate", "sec_fetch_site": "none"}
PLAIN_FETCH = {"sec_fetch_dest": "empty", "sec_fetch_mode": "cors", "sec_fetch_site": "same-origin"}


@pytest.mark.parametrize(
    ("headers", "pageview"),
    [
        (NAVIGATION, True),
        ({"sec_fetch_dest": "Document", "sec_fetch_mode": " navigate"}, True),
        ({"sec_fetch_dest": "document"}, True),  # one of the two is enough to judge
        ({}, True),  # no fetch metadata (old browser, curl with a browser UA): as before
        (PLAIN_FETCH, False),  # fetch('/breads/?via=plain-fetch')
        ({"sec_fetch_dest": "empty", "sec_fetch_mode": "same-origin"}, False),
        ({"sec_fetch_mode": "cors"}, False),
        ({"sec_fetch_dest": "document", "sec_fetch_mode": "no-cors"}, False),
        # An embedded page is part of the page around it: not a page load of its own.
        ({"sec_fetch_dest": "iframe", "sec_fetch_mode": "navigate"}, False),
        ({"sec_fetch_dest": "frame", "sec_fetch_mode": "navigate"}, False),
        ({"sec_fetch_dest": "image", "sec_fetch_mode": "no-cors"}, False),
        # Script fetches that replace the whole page still count.
        ({**PLAIN_FETCH, "hx_request": "true", "hx_boosted": "true"}, True),
        ({**PLAIN_FETCH, "hx_request": "true", "hx_history_restore_request": "true"}, True),
        ({**PLAIN_FETCH, "x_turbo_request_id": "3f1c"}, True),
        ({**PLAIN_FETCH, "x_turbo_request_id": "3f1c", "turbo_frame": "cart"}, False),
        ({**PLAIN_FETCH, "hx_request": "true"}, False),
        ({**NAVIGATION, "sec_purpose": "prefetch"}, False),
    ],
)
def test_fetch_metadata_decides_page_loads(headers: dict[str, str], pageview: bool) -> None:
    rules = PageviewRules()
    assert rules.is_pageview(request(**headers), HTML) is pageview
    only_metadata = not {"sec_purpose", "turbo_frame", "hx_request"} & set(headers)
    if only_metadata:
        assert is_not_document_load(request(**headers).headers) is not pageview


CHROME_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    ("headers", "pageview"),
    [
        # The browser revalidated its cached copy and shows it: a page view.
        (NAVIGATION, True),
        ({"accept": CHROME_ACCEPT}, True),  # a browser without fetch metadata
        ({"sec_fetch_dest": "image", "accept": CHROME_ACCEPT}, False),
        ({"sec_fetch_dest": "empty", "sec_fetch_mode": "cors"}, False),  # fetch()
        ({"accept": "image/avif,image/webp,*/*"}, False),
        ({"accept": "*/*"}, False),  # curl
        ({}, False),  # nothing says it is a page
        ({**NAVIGATION, "sec_purpose": "prefetch"}, False),
        ({**NAVIGATION, "hx_request": "true"}, False),
    ],
)
def test_a_304_to_a_page_load_is_a_page_view(headers: dict[str, str], pageview: bool) -> None:
    not_modified = ResponseView(304, None)  # no body, no Content-Type
    rules = PageviewRules()
    assert rules.is_pageview(request(**headers), not_modified) is pageview
    assert not rules.is_pageview(request(method="POST", **headers), not_modified)


def test_without_the_request_a_304_is_not_a_page_response() -> None:
    assert not is_page_response(ResponseView(304, None))  # nothing says it is a page
    assert is_page_response(ResponseView(304, None), request(sec_fetch_dest="document"))


def test_fetch_metadata_through_a_lazy_mapping() -> None:
    # Adapters may hand in any Mapping (Django's is lazy): no fast path, same answer.
    rules = PageviewRules()
    for headers, excluded in (({"sec-fetch-dest": "empty"}, True), (NAVIGATION, False)):
        lazy = MappingProxyType({k.replace("_", "-"): v for k, v in headers.items()})
        assert (
            rules.request_excluded(RequestView("GET", "https", "h", "/", "", lazy, {})) is excluded
        )


def test_static_include_exclude() -> None:
    rules = PageviewRules(
        static_prefixes=["/static/", "/", ""],
        exclude_paths=[r"^/admin/"],
        include_paths=[r"^/shop/", r"^/$"],
    )
    assert rules.is_pageview(request("/"), HTML)
    assert rules.is_pageview(request("/shop/1"), HTML)
    assert not rules.is_pageview(request("/static/x.html"), HTML)
    assert not rules.is_pageview(request("/admin/"), HTML)
    assert not rules.is_pageview(request("/blog/"), HTML)


def test_predicate_overrides() -> None:
    verdicts: dict[str, Any] = {"/api": True, "/": False}
    rules = PageviewRules(predicate=lambda req, resp: verdicts.get(req.path))
    assert rules.is_pageview(request("/api"), ResponseView(200, "application/json"))
    assert not rules.is_pageview(request("/"), HTML)
    assert rules.is_pageview(request("/other"), HTML)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"exclude_paths": "^/x"}, TypeError),
        ({"include_paths": [1]}, TypeError),
        ({"include_paths": ["("]}, ValueError),
        ({"static_prefixes": "/static/"}, TypeError),
    ],
)
def test_bad_rules(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        PageviewRules(**kwargs)


def test_properties() -> None:
    req = RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com:8443",
        path="/caf\u00e9/a b",
        query_string="utm_source=x&utm_source=y&fbclid=1&q=",
        headers={"referer": "https://user:pw@Www.Example.COM:444/a", "user-agent": "a" * 1200},
        cookies={},
        client_ip="203.0.113.7",
    )
    props = pageview_properties(req, title="T", route="/r/", view="v")
    assert props["$current_url"] == (
        "https://shop.example.com:8443/caf%C3%A9/a%20b?utm_source=x&utm_source=y&fbclid=1&q="
    )
    assert props["$host"] == "shop.example.com:8443"
    assert props["$pathname"] == "/caf\u00e9/a b"
    assert props["$referring_domain"] == "www.example.com:444"
    assert props["utm_source"] == "x"
    assert props["fbclid"] == "1"
    assert len(props["$raw_user_agent"]) == 1000
    assert props["$raw_user_agent"].endswith("...")
    assert (props["title"], props["route"], props["view"]) == ("T", "/r/", "v")


def test_property_edge_cases() -> None:
    assert referrer_properties({"referer": "   "}) == {
        "$referrer": "$direct",
        "$referring_domain": "$direct",
    }
    assert referrer_properties({"referer": "android-app://x"})["$referring_domain"] == "x"
    assert referrer_properties({"referer": "nonsense"})["$referring_domain"] == "$direct"
    assert referrer_properties({"referer": "http://[::1"})["$referring_domain"] == "$direct"
    assert campaign_properties("") == {}
    assert raw_user_agent({}) is None
    assert raw_user_agent({"user-agent": "ok"}) == "ok"
    props = pageview_properties(request())
    assert "title" not in props
    assert "$raw_user_agent" not in props


_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "language"),
    [
        (_CHROME, "en-GB,en;q=0.9"),
        (_CHROME + " x" * 3000, "fr"),  # cut to 1000 characters
        (_CHROME[:999] + "x", "de-DE"),
        ("", "x" * 501),  # too long to be read
        (_CHROME, ""),
    ],
)
def test_compiled_properties_agree_with_the_plain_ones(ua: str, language: str) -> None:
    headers = {
        "user-agent": ua,
        "accept-language": language,
        "referer": "https://www.bing.com/?q=mugs",
    }
    view = RequestView("GET", "https", "shop.example.com", "/p", "utm_source=x&a=1", headers, {})
    compiled = RequestProperties(URLMasker().mask)
    for _ in range(2):  # the second time from the caches
        assert compiled.pageview(view, title="T") == pageview_properties(view, title="T")
