"""The Flask extension through Flask's test client, checked at the inbox."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import flask_login
import pytest
from flask import (
    Flask,
    Response,
    g,
    render_template_string,
    request,
    send_file,
    stream_with_context,
)

import posthog_web
from posthog_web import Client
from posthog_web.flask import PostHog
from posthog_web.inbox import InboxServer
from posthog_web.web.helper import NoopHelper, RequestHelper
from posthog_web.web.identity import posthog_cookie_name
from tests.asgi.helpers import BROWSER_UA

PAGE = "<!doctype html><html><head><title>{{ title }}</title>{{ posthog_snippet() }}</head></html>"
UA = {"User-Agent": BROWSER_UA}


class User(flask_login.UserMixin):
    def __init__(self, user_id: str) -> None:
        self.id = user_id
        self.email = f"{user_id}@example.com"


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    posthog = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        yield posthog
    finally:
        posthog.shutdown(timeout=5)


def make_app(client: Client, *, login: bool = True, **settings: Any) -> Flask:
    app = Flask(__name__)
    app.secret_key = "flask-test-secret"
    app.config["POSTHOG_WEB"] = {"CLIENT": client, **settings}
    if login:
        manager = flask_login.LoginManager(app)
        manager.user_loader(User)
    PostHog(app)
    app.extensions["seen"] = []

    @app.get("/")
    def home() -> str:
        app.extensions["seen"].append((g.posthog, request.posthog, posthog_web.current()))  # type: ignore[attr-defined]
        return render_template_string(PAGE, title="Home")

    @app.get("/products/<int:pid>")
    def product(pid: int) -> str:
        return render_template_string(PAGE, title=f"Product {pid}")

    @app.post("/login/<user_id>")
    def log_in(user_id: str) -> str:
        flask_login.login_user(User(user_id))
        return "ok"

    @app.post("/logout")
    def log_out() -> str:
        flask_login.logout_user()
        return "bye"

    @app.post("/buy")
    def buy() -> str:
        g.posthog.capture("purchase_completed", {"amount": 49})
        return "thanks"

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            yield "<title>Streamed</title>"
            app.extensions["seen"].append(posthog_web.current())
            yield "<p>more</p>"

        return Response(stream_with_context(chunks()), mimetype="text/html")

    return app


def sent(client: Client, inbox: InboxServer, event: str | None = None) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return inbox.events(event)


def test_page_views_with_title_route_and_the_helper_everywhere(
    client: Client, inbox: InboxServer
) -> None:
    app = make_app(client)
    http = app.test_client()
    home = http.get("/", headers=UA)
    assert home.status_code == 200
    assert "posthog.init(" in home.text  # the Jinja global
    assert home.headers["Cache-Control"].startswith("private")
    http.get("/products/3?utm_campaign=spring", headers=UA)
    ((helper, on_request, current),) = app.extensions["seen"]
    assert isinstance(helper, RequestHelper)
    assert not isinstance(helper, NoopHelper)
    assert helper is on_request is current
    views = sent(client, inbox, "$pageview")
    assert [v["properties"]["title"] for v in views] == ["Home", "Product 3"]
    assert views[1]["properties"]["route"] == "/products/<int:pid>"
    assert views[1]["properties"]["route_name"] == "product"
    assert views[1]["properties"]["view"] == "tests.flask.test_extension.make_app.<locals>.product"
    assert views[1]["properties"]["utm_campaign"] == "spring"
    assert views[0]["distinct_id"] == views[1]["distinct_id"]
    assert f'"distinctID":"{views[0]["distinct_id"]}"' in home.text


def test_flask_login_signals_alias_identify_and_rotate(client: Client, inbox: InboxServer) -> None:
    http = make_app(client).test_client()
    http.get("/", headers=UA)
    anon_id = http.get_cookie("ph_web_id").value.split(".")[1]  # type: ignore[union-attr]
    http.post("/buy", headers=UA)
    http.post("/login/ada", headers=UA)
    http.get("/", headers=UA)
    http.post("/logout", headers=UA)
    http.get("/", headers=UA)
    events = sent(client, inbox)
    [alias] = [e for e in events if e["event"] == "$create_alias"]
    assert (alias["distinct_id"], alias["properties"]["alias"]) == ("ada", anon_id)
    [identify] = [e for e in events if e["event"] == "$identify"]
    assert identify["$set"] == {"email": "ada@example.com"}
    [purchase] = [e for e in events if e["event"] == "purchase_completed"]
    assert purchase["distinct_id"] == anon_id
    views = [e["distinct_id"] for e in events if e["event"] == "$pageview"]
    assert views[:2] == [anon_id, "ada"]
    assert views[2] not in (anon_id, "ada")  # a new anonymous id after the logout


def test_a_copied_cookie_is_not_aliased_into_a_second_user(
    client: Client, inbox: InboxServer
) -> None:
    app = make_app(client)
    first = app.test_client()
    first.get("/", headers=UA)
    cookie = first.get_cookie("ph_web_id")
    assert cookie is not None
    first.post("/login/ada", headers=UA)
    second = app.test_client()
    second.set_cookie("ph_web_id", cookie.value)
    second.post("/login/eve", headers=UA)
    aliases = sent(client, inbox, "$create_alias")
    assert [a["distinct_id"] for a in aliases] == ["ada"]


def test_a_posthog_js_identified_visitor_logging_out_resets_posthog_js(
    client: Client, inbox: InboxServer
) -> None:
    http = make_app(client).test_client()
    page = http.get("/", headers=UA).text
    token = page.split('posthog.init("', 1)[1].split('"', 1)[0]
    http.post("/login/ada", headers=UA)
    state = {"distinct_id": "ada", "$user_state": "identified"}
    http.set_cookie(posthog_cookie_name(token), quote(json.dumps(state)))
    http.post("/logout", headers=UA)
    after = http.get("/", headers=UA).text
    assert '"isIdentifiedID":false' in after


def test_explicit_login_without_flask_login(client: Client, inbox: InboxServer) -> None:
    app = make_app(client, login=False)
    posthog = app.extensions["posthog_web"]

    @app.post("/signin")
    def signin() -> str:
        posthog.login("grace", {"plan": "pro"})
        return "ok"

    http = app.test_client()
    http.get("/", headers=UA)
    http.post("/signin", headers=UA)
    http.get("/", headers=UA)  # remembered: Flask-Login is not there to say otherwise
    events = sent(client, inbox)
    assert [e["event"] for e in events if e["event"].startswith("$c")] == ["$create_alias"]
    views = [e["distinct_id"] for e in events if e["event"] == "$pageview"]
    assert views[-1] == "grace"


def test_user_loader_without_flask_login(client: Client, inbox: InboxServer) -> None:
    app = make_app(client, login=False)
    posthog: PostHog = app.extensions["posthog_web"]

    @posthog.user_loader
    def user() -> User | None:
        name = request.headers.get("X-User")
        return User(name) if name else None

    http = app.test_client()
    http.get("/", headers={**UA, "X-User": "lin"})
    http.get("/", headers=UA)
    views = sent(client, inbox, "$pageview")
    assert views[0]["distinct_id"] == "lin"
    assert views[1]["distinct_id"] != "lin"


def test_streamed_responses_pass_through_with_the_helper_bound(
    client: Client, inbox: InboxServer
) -> None:
    app = make_app(client)
    response = app.test_client().get("/stream", headers=UA)
    assert response.text == "<title>Streamed</title><p>more</p>"
    [helper] = app.extensions["seen"]
    assert isinstance(helper, RequestHelper)
    assert not isinstance(helper, NoopHelper)
    response.close()
    assert sent(client, inbox, "$pageview") == []


def test_head_requests_are_left_alone(client: Client, inbox: InboxServer) -> None:
    app = make_app(client)
    response = app.test_client().head("/", headers=UA)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    (helper, _, _) = app.extensions["seen"][0]
    assert isinstance(helper, NoopHelper)
    assert sent(client, inbox) == []


def test_the_settings_dict_is_checked_like_djangos(client: Client) -> None:
    app = Flask(__name__)
    app.config["POSTHOG_WEB"] = {"CLIENT": client, "EXCLUDE_PATH": [], "FILTER_BOTS": "yes"}
    with pytest.raises(ValueError, match="unknown key 'EXCLUDE_PATH'") as caught:
        PostHog(app)
    assert "POSTHOG_WEB['FILTER_BOTS'] must be True or False" in str(caught.value)
    app.config["POSTHOG_WEB"] = {"CLIENT": client, "DISTINCT_ID": "no.such.module.fn"}
    with pytest.raises(ValueError, match=r"DISTINCT_ID.*cannot import"):
        PostHog(app)


def test_exclusions_and_keyless_inbox_rules(
    inbox: InboxServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    with caplog.at_level("WARNING", logger="posthog_web"):
        disabled = Flask(__name__)
        PostHog(disabled)  # no key, no host, not debug: nothing is sent
    assert "disabled" in caplog.text
    monkeypatch.setenv("POSTHOG_HOST", inbox.url)  # a loopback host: a local inbox
    app = Flask(__name__)
    app.secret_key = "k"
    app.config["POSTHOG_WEB"] = {"EXCLUDE_PATHS": ["/health"]}
    PostHog(app)

    @app.get("/health")
    def health() -> str:
        return "<title>ok</title>"

    @app.get("/")
    def home() -> str:
        return "<title>Home</title>"

    http = app.test_client()
    http.get("/health", headers=UA)
    http.get("/", headers=UA)
    tracker = app.wsgi_app.tracker  # type: ignore[attr-defined]
    assert tracker.client.flush(timeout=10)
    try:
        assert [e["properties"]["$pathname"] for e in inbox.events("$pageview")] == ["/"]
    finally:
        tracker.client.shutdown(timeout=5)


def test_a_cms_catch_all_route_and_send_file(client: Client, inbox: InboxServer) -> None:
    app = make_app(client)
    page_html = b"<!doctype html><title>Download</title>"

    @app.get("/pages/<path:slug>")
    def cms(slug: str) -> str:
        return render_template_string(PAGE, title=slug.replace("/", " / "))

    @app.get("/files/report.html")
    def report() -> Response:
        return send_file(io.BytesIO(page_html), mimetype="text/html")

    http = app.test_client()
    http.get("/pages/about", headers=UA)
    http.get("/pages/team/ada", headers=UA)
    download = http.get("/files/report.html", headers=UA)
    assert download.data == page_html
    download.close()
    views = sent(client, inbox, "$pageview")
    assert [v["properties"]["$pathname"] for v in views] == ["/pages/about", "/pages/team/ada"]
    assert {v["properties"]["route"] for v in views} == {"/pages/<path:slug>"}
    assert [v["properties"]["title"] for v in views] == ["about", "team / ada"]


def test_bots_and_gpc_get_no_cookie_and_no_event(client: Client, inbox: InboxServer) -> None:
    http = make_app(client).test_client()
    bot = http.get("/", headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    assert "Set-Cookie" not in bot.headers
    private = make_app(client).test_client().get("/", headers={**UA, "Sec-GPC": "1"})
    assert "ph_web_id" not in private.headers.get("Set-Cookie", "")
    assert "posthog.init(" not in private.text  # the opted-out visitor gets no posthog-js
    assert sent(client, inbox) == []


def test_one_extension_for_two_apps_keeps_each_apps_settings(
    client: Client, inbox: InboxServer
) -> None:
    posthog = PostHog()  # the app factory pattern: init_app per app
    apps = []
    for prefix in ("shop", "admin"):
        app = Flask(prefix)
        app.secret_key = prefix
        app.config["POSTHOG_WEB"] = {
            "CLIENT": client,
            "DISTINCT_ID": lambda user, prefix=prefix: f"{prefix}-{user.get_id()}",
        }
        flask_login.LoginManager(app).user_loader(User)
        posthog.init_app(app)

        @app.post("/login")
        def log_in() -> str:
            flask_login.login_user(User("ada"))
            return "ok"

        apps.append(app)
    for app in apps:
        app.test_client().post("/login", headers=UA)
    identifies = sent(client, inbox, "$identify")
    assert sorted(e["distinct_id"] for e in identifies) == ["admin-ada", "shop-ada"]


def test_a_view_error_propagates_unchanged_when_flask_propagates_it(
    client: Client, inbox: InboxServer
) -> None:
    app = make_app(client)
    app.testing = True  # PROPAGATE_EXCEPTIONS: the error leaves Flask's wsgi_app
    failure = LookupError("no such order")

    @app.get("/orders/<int:oid>")
    def order(oid: int) -> str:
        raise failure

    with pytest.raises(LookupError) as caught:
        app.test_client().get("/orders/1", headers=UA)
    assert caught.value is failure
    assert isinstance(posthog_web.current(), NoopHelper)
    app.testing = False  # now Flask answers 500 itself: not a page view
    assert app.test_client().get("/orders/1", headers=UA).status_code == 500
    assert sent(client, inbox, "$pageview") == []
