"""Starlette through the real middleware, checked against what the inbox received."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.events import is_uuid7
from posthog_web.inbox import InboxServer
from tests.asgi.apps import Boom, starlette_app
from tests.asgi.helpers import BROWSER, BROWSER_UA, pageviews, sent

COOKIE = "ph_web_id"


def _anon_id(test_client: TestClient) -> str:
    raw = test_client.cookies[COOKIE]
    return raw.split(".")[1]


def test_html_get_is_a_pageview_with_route_view_and_anonymous_cookie(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        response = http.get("/items/42?utm_source=news", headers={"referer": "https://g.co/x"})
        assert response.status_code == 200
        assert response.text.startswith("<!doctype html>")
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith(f"{COOKIE}=1.")
        assert "HttpOnly" in set_cookie
        assert "SameSite=Lax" in set_cookie
        assert "Max-Age=31536000" in set_cookie
        anon_id = _anon_id(http)
        assert is_uuid7(anon_id)

        second = http.get("/")
        assert "set-cookie" not in second.headers  # the id is known now

    views = pageviews(client, inbox)
    assert [v["properties"]["$pathname"] for v in views] == ["/items/42", "/"]
    first = views[0]
    props = first["properties"]
    assert first["distinct_id"] == anon_id
    assert views[1]["distinct_id"] == anon_id
    assert props["route"] == "/items/{item_id:int}"
    assert props["view"] == "tests.asgi.apps.item"
    assert props["route_name"] == "item"
    assert props["title"] == "t"  # the page's <title>
    assert props["$current_url"] == "http://testserver/items/42?utm_source=news"
    assert props["$host"] == "testserver"
    assert props["utm_source"] == "news"
    assert props["$referrer"] == "https://g.co/x"
    assert props["$raw_user_agent"] == BROWSER_UA
    assert props["$process_person_profile"] is False
    assert props["$pageview_id"] == first["uuid"]


def test_mounted_route_template_includes_the_mount_prefix(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        assert http.get("/admin/users/7").status_code == 200
    (view,) = pageviews(client, inbox)
    assert view["properties"]["route"] == "/admin/users/{user_id}"
    assert view["properties"]["$pathname"] == "/admin/users/7"


def test_lambda_endpoints_give_no_route_name(client: Client, inbox: InboxServer) -> None:
    app = starlette_app(client, record_pageview=lambda req, resp: True)
    with TestClient(app, headers=BROWSER) as http:
        http.get("/text")
    (view,) = pageviews(client, inbox)
    assert "route_name" not in view["properties"]
    assert "title" not in view["properties"]  # not HTML
    assert view["properties"]["view"] == "tests.asgi.apps.<lambda>"


SKIPS: list[tuple[str, str, str, dict[str, str], dict[str, Any]]] = [
    ("post", "POST", "/form", {}, {}),
    ("json", "GET", "/json", {}, {}),
    ("plain text", "GET", "/text", {}, {}),
    ("404", "GET", "/missing", {}, {}),
    ("500", "GET", "/error", {}, {}),
    ("redirect", "GET", "/redirect", {}, {}),
    ("streaming", "GET", "/stream", {}, {}),
    ("health check", "GET", "/health", {}, {}),
    ("robots.txt", "GET", "/robots.txt", {}, {}),
    ("bot", "GET", "/", {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, {}),
    ("http library", "GET", "/", {"user-agent": "python-requests/2.32"}, {}),
    (
        "extra bot fragment",
        "GET",
        "/",
        {"user-agent": "AcmeCrawler"},
        {"bot_user_agents": ["acme"]},
    ),
    ("prefetch", "GET", "/", {"sec-purpose": "prefetch"}, {}),
    ("htmx partial", "GET", "/", {"hx-request": "true"}, {}),
    ("turbo frame", "GET", "/", {"turbo-frame": "main"}, {}),
    ("xhr", "GET", "/", {"x-requested-with": "XMLHttpRequest"}, {}),
    ("exclude_paths", "GET", "/private/page", {}, {"exclude_paths": [r"^/private/"]}),
    ("include_paths", "GET", "/", {}, {"include_paths": [r"^/docs/"]}),
    ("static_prefixes", "GET", "/static/app.html", {}, {"static_prefixes": ["/static/"]}),
    ("record_pageview", "GET", "/", {}, {"record_pageview": lambda req, resp: False}),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "options"),
    [s[1:] for s in SKIPS],
    ids=[s[0] for s in SKIPS],
)
def test_skip_rules(
    client: Client,
    inbox: InboxServer,
    method: str,
    path: str,
    headers: dict[str, str],
    options: dict[str, Any],
) -> None:
    control = "/docs/page"  # a page view under every option set above
    with TestClient(starlette_app(client, **options), headers=BROWSER) as http:
        skipped = http.request(method, path, headers=headers, follow_redirects=False)
        if path != "/stream":  # headers leave before the body shows that it streams
            assert "set-cookie" not in skipped.headers  # no id is minted for a non-page view
        assert http.get(control).status_code == 200
    if options.get("record_pageview"):
        assert pageviews(client, inbox) == []
        return
    assert [v["properties"]["$pathname"] for v in pageviews(client, inbox)] == [control]


def test_record_pageview_can_force_a_pageview(client: Client, inbox: InboxServer) -> None:
    app = starlette_app(client, record_pageview=lambda req, resp: req.path == "/json")
    with TestClient(app, headers=BROWSER) as http:
        http.get("/json")
        http.get("/")
    assert [v["properties"]["$pathname"] for v in pageviews(client, inbox)] == ["/json"]


def test_head_is_untouched(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        response = http.head("/")
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        # request.state.posthog still exists (a no-op), so a view calling it works.
        assert http.head("/capture").status_code == 200
    assert sent(client, inbox) == []


def test_view_helper_page_names_a_non_html_response(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        response = http.get("/named")
        assert response.headers["set-cookie"].startswith(f"{COOKIE}=")
    (view,) = pageviews(client, inbox)
    assert view["properties"]["title"] == "Named"
    assert view["properties"]["section"] == "docs"


def test_capture_from_a_view_uses_the_request_identity(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        response = http.post("/capture")
        assert response.json() == {"ok": True}
        anon_id = _anon_id(http)
        http.get("/sync")
    clicked, synced = sent(client, inbox, "button_clicked"), sent(client, inbox, "sync_endpoint")
    assert clicked[0]["distinct_id"] == anon_id
    assert clicked[0]["properties"]["color"] == "blue"
    assert clicked[0]["properties"]["$pathname"] == "/capture"
    assert synced[0]["distinct_id"] == anon_id


def test_app_exception_is_reraised_unchanged_and_records_nothing(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        with pytest.raises(Boom, match="the app failed"):
            http.get("/boom")
        http.get("/docs/page")
    assert [v["properties"]["$pathname"] for v in pageviews(client, inbox)] == ["/docs/page"]


def test_websocket_passes_through(client: Client, inbox: InboxServer) -> None:
    with (
        TestClient(starlette_app(client), headers=BROWSER) as http,
        http.websocket_connect("/ws") as ws,
    ):
        ws.send_text("hi")
        assert ws.receive_text() == "echo hi"
    assert sent(client, inbox) == []


def test_tracing_headers_and_posthog_js_cookie_are_used(client: Client, inbox: InboxServer) -> None:
    session = "01a028e9-b500-7b2c-8d3e-112233445566"
    headers = {"x-posthog-distinct-id": "browser-anon-1", "x-posthog-session-id": session}
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        response = http.get("/", headers=headers)
        assert "set-cookie" not in response.headers  # the browser owns the id
    (view,) = pageviews(client, inbox)
    assert view["distinct_id"] == "browser-anon-1"
    assert view["properties"]["$session_id"] == session


def test_login_through_the_helper_links_the_anonymous_visitor(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        http.get("/")
        anon_id = _anon_id(http)
        response = http.get("/login?user=ada")
        assert response.headers["set-cookie"].startswith(f"{COOKIE}=")  # now marked linked
        assert _anon_id(http) == anon_id
        again = http.get("/login?user=ada")
        assert "set-cookie" not in again.headers

    aliases = sent(client, inbox, "$create_alias")
    assert len(aliases) == 1  # once per browser, not per login
    assert aliases[0]["distinct_id"] == "ada"
    assert aliases[0]["properties"]["alias"] == anon_id
    identifies = sent(client, inbox, "$identify")
    assert identifies[0]["distinct_id"] == "ada"
    assert identifies[0]["$set"] == {"email": "ada@example.com"}
    views = pageviews(client, inbox)
    assert [v["distinct_id"] for v in views] == [anon_id, "ada", "ada"]
    assert views[1]["properties"]["$process_person_profile"] is True
    (person,) = [p for p in inbox.persons() if "ada" in p["distinct_ids"]]
    assert anon_id in person["distinct_ids"]


def test_a_second_user_on_the_same_browser_is_not_merged_into_the_first(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        http.get("/")
        http.get("/login?user=ada")
        http.get("/login?user=bob")
    aliases = sent(client, inbox, "$create_alias")
    assert [a["distinct_id"] for a in aliases] == ["ada"]


def test_logout_rotates_the_anonymous_id(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        http.get("/")
        before = _anon_id(http)
        http.get("/login?user=ada")
        response = http.get("/logout")
        assert response.headers["set-cookie"].startswith(f"{COOKIE}=")
        after = _anon_id(http)
        assert after != before
        assert http.get("/whoami").json() == {"distinct_id": after, "identified": False}
    views = pageviews(client, inbox)
    assert [v["distinct_id"] for v in views] == [before, "ada", after]


@pytest.mark.parametrize("auth", ["outside", "inside"])
def test_user_from_authentication_middleware(client: Client, inbox: InboxServer, auth: str) -> None:
    with TestClient(starlette_app(client, auth=auth), headers=BROWSER) as http:
        assert http.get("/", headers={"x-user": "alice"}).status_code == 200
        response = http.get("/", headers={})
        assert response.status_code == 200
    views = pageviews(client, inbox)
    assert views[0]["distinct_id"] == "alice"
    assert views[0]["properties"]["$process_person_profile"] is True
    assert views[1]["distinct_id"] != "alice"
    assert views[1]["properties"]["$process_person_profile"] is False


def test_views_see_the_authenticated_user_when_auth_runs_first(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client, auth="outside"), headers=BROWSER) as http:
        who = http.get("/whoami", headers={"x-user": "alice"}).json()
        assert who == {"distinct_id": "alice", "identified": True}
        http.post("/capture", headers={"x-user": "alice"})
    (clicked,) = sent(client, inbox, "button_clicked")
    assert clicked["distinct_id"] == "alice"


def test_distinct_id_and_person_properties_callables(client: Client, inbox: InboxServer) -> None:
    app = starlette_app(
        client,
        auth="outside",
        distinct_id=lambda user: f"user:{user.username}",
        person_properties=lambda user: {"name": user.display_name},
    )
    with TestClient(app, headers=BROWSER) as http:
        http.get("/", headers={"x-user": "alice"})
        http.get("/", headers={"x-user": "alice"})
    views = pageviews(client, inbox)
    assert {v["distinct_id"] for v in views} == {"user:alice"}
    identifies = sent(client, inbox, "$identify")
    assert len(identifies) == 1  # only when the properties change
    assert identifies[0]["$set"] == {"name": "alice"}


def test_login_in_the_view_wins_over_the_authenticated_user(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client, auth="inside"), headers=BROWSER) as http:
        http.get("/login?user=ada", headers={"x-user": "alice"})
        http.get("/logout", headers={"x-user": "alice"})
    views = pageviews(client, inbox)
    assert views[0]["distinct_id"] == "ada"
    assert views[1]["distinct_id"] not in ("ada", "alice")


def test_failing_user_callable_is_logged_and_the_request_stays_anonymous(
    client: Client, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(user: Any) -> str:
        raise RuntimeError("user lookup failed")

    app = starlette_app(client, auth="outside", distinct_id=broken)
    with (
        caplog.at_level(logging.WARNING, logger="posthog_web"),
        TestClient(app, headers=BROWSER) as http,
    ):
        assert http.get("/", headers={"x-user": "alice"}).text.startswith("<!doctype")
    (view,) = pageviews(client, inbox)
    assert view["distinct_id"] != "alice"
    assert "user lookup failed" in caplog.text


def test_illegal_user_id_is_not_sent(client: Client, inbox: InboxServer) -> None:
    app = starlette_app(client, auth="outside", distinct_id=lambda user: "0")
    with TestClient(app, headers=BROWSER) as http:
        http.get("/", headers={"x-user": "alice"})
    (view,) = pageviews(client, inbox)
    assert view["distinct_id"] != "0"


def test_always_person_profiles(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client, person_profiles="always"), headers=BROWSER) as http:
        http.get("/")
    (view,) = pageviews(client, inbox)
    assert view["properties"]["$process_person_profile"] is True


def test_cookie_options(client: Client, inbox: InboxServer) -> None:
    app = starlette_app(
        client,
        anonymous_cookie_name="visitor",
        cookie_max_age=3600,
        cookie_secure=True,
        cookie_domain="example.com",
    )
    with TestClient(app, headers=BROWSER) as http:
        cookie = http.get("/").headers["set-cookie"]
    assert cookie.startswith("visitor=1.")
    for part in ("Max-Age=3600", "Domain=example.com", "Secure", "HttpOnly", "SameSite=Lax"):
        assert part in cookie


def test_lifespan_shutdown_flushes_the_client(inbox: InboxServer) -> None:
    # Nothing is sent on a timer or at a batch size: only the shutdown flush delivers.
    client = Client("phc_test", host=inbox.url, flush_interval=3600, flush_at=1000)
    try:
        with TestClient(starlette_app(client), headers=BROWSER) as http:
            http.get("/")
            assert inbox.events() == []
        (view,) = inbox.events()
        assert view["event"] == "$pageview"
    finally:
        client.shutdown(timeout=5)


def test_a_revisit_answered_304_is_a_page_view(client: Client, inbox: InboxServer) -> None:
    # The app revalidates the browser's cached copy (an ETag); the browser shows it.
    async def page(request: Request) -> Response:
        if request.headers.get("if-none-match") == '"v1"':
            return Response(status_code=304, headers={"etag": '"v1"'})
        return HTMLResponse("<!doctype html><title>Cached</title>", headers={"etag": '"v1"'})

    app = Starlette(
        routes=[Route("/cached", page)],
        middleware=[Middleware(PostHogMiddleware, client=client, secret_key="s")],
    )
    navigate = {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate"}
    with TestClient(app, headers=BROWSER) as http:
        assert http.get("/cached", headers=navigate).status_code == 200
        again = http.get("/cached", headers={**navigate, "if-none-match": '"v1"'})
        assert again.status_code == 304
        script = http.get("/cached", headers={"sec-fetch-dest": "empty", "if-none-match": '"v1"'})
        assert script.status_code == 304  # a fetch() revalidating: not a page view
    shown, revisited = pageviews(client, inbox)
    assert shown["properties"]["title"] == "Cached"
    assert revisited["properties"]["route"] == "/cached"
    assert "title" not in revisited["properties"]
    assert revisited["distinct_id"] == shown["distinct_id"]
