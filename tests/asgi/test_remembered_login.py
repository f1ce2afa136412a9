"""Issue 13, items 5 and 7: ``login()`` in an auth dependency, across app instances.

One ``$identify`` per browser and set of person properties, whichever worker a request
lands on (the signed cookie carries what was identified); the user remembered in that
cookie for routes without the dependency, until ``logout()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient
from starlette.middleware.authentication import AuthenticationMiddleware

import posthog_web
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.events import uuid7
from posthog_web.fastapi import PostHog
from posthog_web.inbox import InboxServer
from posthog_web.web.identity import AnonymousCookie, CookieSigner
from posthog_web.web.snippet import posthog_snippet
from tests.asgi.apps import HeaderBackend
from tests.asgi.helpers import BROWSER, pageviews, sent

SECRET = "remembered-login-secret"
# The dependency's person properties, from a header so a test can change them.
PROFILE_HEADER = "x-plan"


def signed_in(request: Request, posthog: PostHog) -> None:
    """An auth dependency: the session says "ada", so it logs her in on every request."""
    if request.cookies.get("app_session") == "ada":
        posthog.login("ada", {"plan": request.headers.get(PROFILE_HEADER, "free")})


def shop(client: Client, *, auth_middleware: bool = False, **options: Any) -> FastAPI:
    """One app instance (one worker): its own client, tracker and process memory.

    ``auth_middleware``: Starlette's AuthenticationMiddleware sets ``scope["user"]``
    (``X-User: <name>``) on every request, as well as the dependency.
    """
    app = FastAPI()

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(signed_in)])
    def home(request: Request) -> str:
        return f"<!doctype html><title>home</title>{posthog_snippet(request)}"

    @app.get("/style.css", dependencies=[Depends(signed_in)])
    def style() -> PlainTextResponse:
        return PlainTextResponse("h1{}", media_type="text/css")

    @app.get("/open", response_class=HTMLResponse)  # no auth dependency
    def open_page(request: Request) -> str:
        return f"<!doctype html><title>open</title>{posthog_snippet(request)}"

    @app.get("/login/{user}")
    def login(user: str, posthog: PostHog) -> PlainTextResponse:
        posthog.login(user)
        return PlainTextResponse("ok")

    @app.get("/logout")
    def logout(posthog: PostHog) -> PlainTextResponse:
        posthog.logout()
        return PlainTextResponse("ok")

    if auth_middleware:
        app.add_middleware(AuthenticationMiddleware, backend=HeaderBackend())
    options.setdefault("secret_key", SECRET)
    app.add_middleware(PostHogMiddleware, client=client, **options)
    return app


@pytest.fixture
def second_client(inbox: InboxServer) -> Iterator[Client]:
    """The second worker's own client, sending to the same PostHog."""
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


class Browser:
    """One cookie jar; each request may land on a different app instance."""

    def __init__(self, *apps: Any) -> None:
        self.clients = [TestClient(app, headers=BROWSER) for app in apps]
        self.jar: dict[str, str] = {"app_session": "ada"}

    def get(self, path: str, worker: int = 0, **headers: str) -> str:
        http = self.clients[worker]
        http.cookies.clear()
        for name, value in self.jar.items():
            http.cookies.set(name, value)
        response = http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        for name, value in response.cookies.items():
            if value:
                self.jar[name] = value
            else:
                self.jar.pop(name, None)
        return response.text

    def close(self) -> None:
        for http in self.clients:
            http.close()


def identifies(client: Client, inbox: InboxServer) -> list[Any]:
    return [e["$set"]["plan"] for e in sent(client, inbox, "$identify")]


def test_login_on_every_request_sends_one_identify_across_two_workers(
    client: Client, second_client: Client, inbox: InboxServer
) -> None:
    browser = Browser(shop(client), shop(second_client))
    try:
        for worker in (0, 1, 0, 1):  # the issue: 4 page views, each with its CSS
            browser.get("/", worker)
            browser.get("/style.css", 1 - worker)
        assert second_client.flush(timeout=10)
        assert identifies(client, inbox) == ["free"]
        # New properties: one more $identify, then quiet again on both workers.
        for worker in (1, 0, 1):
            browser.get("/", worker, **{PROFILE_HEADER: "pro"})
        assert second_client.flush(timeout=10)
        assert identifies(client, inbox) == ["free", "pro"]
    finally:
        browser.close()
    assert {v["distinct_id"] for v in pageviews(client, inbox)} == {"ada"}


def datasette_like(client: Client) -> PostHogMiddleware:
    """A plain ASGI app (no Starlette) whose auth logs the user in on every request."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        posthog_web.current().login("ada", {"plan": "free"})
        css = scope["path"].endswith(".css")
        kind = b"text/css" if css else b"text/html; charset=utf-8"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind)]}
        )
        await send({"type": "http.response.body", "body": b"h1{}" if css else b"<title>t</title>"})

    return PostHogMiddleware(app, client=client, secret_key=SECRET)


def test_a_plain_asgi_app_logging_in_on_every_request_identifies_once(
    client: Client, second_client: Client, inbox: InboxServer
) -> None:
    browser = Browser(datasette_like(client), datasette_like(second_client))
    try:
        for worker in (0, 1, 0, 1):
            browser.get(f"/db/table{worker}", worker)
            browser.get("/-/static/app.css", 1 - worker)
    finally:
        browser.close()
    assert second_client.flush(timeout=10)
    assert identifies(client, inbox) == ["free"]
    assert len(pageviews(client, inbox)) == 4


def test_each_browser_identifies_once_even_without_shared_process_memory(
    client: Client, second_client: Client, inbox: InboxServer
) -> None:
    # Two browsers of the same user on one worker: the process memory spares the second.
    workers = shop(client), shop(second_client)
    first, second = Browser(*workers), Browser(workers[0])
    try:
        first.get("/", 0)
        second.get("/", 0)
        first.get("/", 1)
        assert second_client.flush(timeout=10)
        assert identifies(client, inbox) == ["free"]
    finally:
        first.close()
        second.close()


def test_a_remembered_login_attributes_routes_without_the_dependency(
    client: Client, second_client: Client, inbox: InboxServer
) -> None:
    browser = Browser(shop(client), shop(second_client))
    browser.jar.clear()  # no app session: only login() knows the user
    try:
        anonymous = browser.get("/open?n=0", 0)
        assert '"isIdentifiedID":false' in anonymous
        browser.get("/login/grace", 0)
        page = browser.get("/open?n=1", 1)  # the other worker, no dependency
        assert '"distinctID":"grace","isIdentifiedID":true' in page
        browser.get("/login/linus", 1)  # a different user replaces her
        browser.get("/open?n=2", 0)
        browser.get("/logout", 0)
        after = browser.get("/open?n=3", 1)
    finally:
        browser.close()
    assert '"isIdentifiedID":false' in after
    assert second_client.flush(timeout=10)
    # Two clients deliver in any order: the query string says which request it was.
    views = sorted(pageviews(client, inbox), key=lambda v: str(v["properties"]["$current_url"]))
    ids = [v["distinct_id"] for v in views]
    assert ids[1:4] == ["grace", "linus", ids[3]]
    assert ids[3] not in ("grace", "linus", ids[0])  # a new anonymous id after logout


def test_an_authentication_middleware_decides_over_a_remembered_user(
    client: Client, inbox: InboxServer
) -> None:
    browser = Browser(shop(client, auth_middleware=True))
    browser.jar.clear()
    try:
        browser.get("/login/grace")
        bob = browser.get("/open?n=0", **{"x-user": "bob"})
        nobody = browser.get("/open?n=1")  # the middleware says: not authenticated
    finally:
        browser.close()
    assert '"distinctID":"bob"' in bob
    assert '"isIdentifiedID":false' in nobody
    ids = [v["distinct_id"] for v in pageviews(client, inbox)]
    assert ids[0] == "bob"
    assert ids[1] not in ("bob", "grace")


@pytest.mark.parametrize(
    "options", [{"remember_login": False}, {"secret_key": None}], ids=["off", "unsigned"]
)
def test_no_remembered_login_when_off_or_unsigned(
    client: Client, inbox: InboxServer, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    browser = Browser(shop(client, **options))
    browser.jar.clear()
    try:
        browser.get("/login/grace")
        page = browser.get("/open")
    finally:
        browser.close()
    assert '"isIdentifiedID":false' in page
    [view] = pageviews(client, inbox)
    assert view["distinct_id"] != "grace"


def test_only_a_cookie_signed_with_the_secret_names_a_user(
    client: Client, inbox: InboxServer
) -> None:
    browser = Browser(shop(client))
    browser.jar.clear()
    try:
        for n, secret in enumerate(("guessed-secret", SECRET)):
            cookie = AnonymousCookie(uuid7(), user="grace")
            browser.jar["ph_web_id"] = CookieSigner(secret).dumps(cookie)
            browser.get(f"/open?n={n}")
    finally:
        browser.close()
    forged, signed = [v["distinct_id"] for v in pageviews(client, inbox)]
    assert forged != "grace"
    assert signed == "grace"  # which is why the secret must stay secret
