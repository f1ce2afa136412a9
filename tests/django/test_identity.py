"""Identity through the Django middleware: anonymous ids, login alias, logout rotation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client

import posthog_web
from posthog_web.django import conf
from posthog_web.events import is_uuid7, uuid7, uuid7_at
from posthog_web.web.helper import NoopHelper
from tests.django.conftest import Harness
from tests.django.helpers import COOKIE, anon_id_of, posthog_js_cookie
from tests.django.test_snippet import get, init_of
from tests.django.test_snippet import run as snippet_page

pytestmark = pytest.mark.django_db

JS_COOKIE = "ph_phc_test_posthog"


@pytest.fixture
def ada() -> User:
    return User.objects.create_user(
        "ada", email="ada@example.com", password="pw-ada", first_name="Ada", last_name="Lovelace"
    )


@pytest.fixture
def bob() -> User:
    return User.objects.create_user("bob", email="bob@example.com", password="pw-bob")


def log_in(client: Client, username: str, password: str) -> Any:
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content
    return response


def test_login_aliases_the_anonymous_visitor(posthog: Harness, client: Client, ada: User) -> None:
    anon_id = anon_id_of(client.get("/login/"))
    log_in(client, "ada", "pw-ada")
    client.get("/")

    [alias] = posthog.events("$create_alias")
    assert alias["distinct_id"] == str(ada.pk)
    assert alias["properties"]["alias"] == anon_id
    assert alias["properties"]["$process_person_profile"] is True
    [identify] = posthog.events("$identify")
    assert identify["distinct_id"] == str(ada.pk)
    assert identify["$set"] == {
        "email": "ada@example.com",
        "username": "ada",
        "name": "Ada Lovelace",
    }
    first, second = posthog.pageviews()
    assert first["distinct_id"] == anon_id
    assert second["distinct_id"] == str(ada.pk)
    assert second["properties"]["$process_person_profile"] is True

    [person] = [p for p in posthog.inbox.persons() if str(ada.pk) in p["distinct_ids"]]
    assert anon_id in person["distinct_ids"]
    assert posthog.inbox.merge_refusals() == []


def test_identify_is_resent_only_when_properties_change(
    posthog: Harness, client: Client, ada: User
) -> None:
    client.force_login(ada)
    client.get("/")
    client.get("/pricing/")
    assert len(posthog.events("$identify")) == 1
    ada.email = "ada@lovelace.example"
    ada.save()
    client.get("/")
    identifies = posthog.events("$identify")
    assert [e["$set"]["email"] for e in identifies] == ["ada@example.com", "ada@lovelace.example"]


def test_one_identify_per_browser_whichever_worker_serves_it(
    posthog: Harness, client: Client, ada: User
) -> None:
    # Issue 13 item 5: gunicorn -w 2 sent one $identify per worker. conf.reset() builds
    # a new tracker with an empty process memory, as the second worker has.
    client.force_login(ada)
    client.get("/")
    conf.reset()
    client.get("/pricing/")
    conf.reset()
    client.get("/")
    assert [e["$set"]["email"] for e in posthog.events("$identify")] == ["ada@example.com"]
    ada.email = "ada@lovelace.example"
    ada.save()
    conf.reset()
    client.get("/")
    conf.reset()
    client.get("/pricing/")
    identifies = posthog.events("$identify")
    assert [e["$set"]["email"] for e in identifies] == ["ada@example.com", "ada@lovelace.example"]


def test_a_relogin_with_the_same_properties_sends_no_second_identify(
    posthog: Harness, client: Client, ada: User
) -> None:
    # The logout rotates the cookie (its identify tag goes); this worker's memory of the
    # properties it sent for Ada still spares the second $identify.
    log_in(client, "ada", "pw-ada")
    client.get("/")
    client.post("/logout/")
    log_in(client, "ada", "pw-ada")
    client.get("/")
    assert len(posthog.events("$identify")) == 1
    conf.reset()  # another worker: it never sent Ada's properties
    client.post("/logout/")
    log_in(client, "ada", "pw-ada")
    assert len(posthog.events("$identify")) == 2


def test_logged_in_events_use_the_user_id(posthog: Harness, client: Client, ada: User) -> None:
    client.force_login(ada)
    response = client.post("/buy/")
    assert response.json()["distinct_id"] == str(ada.pk)
    [event] = posthog.events("purchase_completed")
    assert event["distinct_id"] == str(ada.pk)
    assert event["properties"]["$process_person_profile"] is True
    # The cookie only remembers what this browser identified; its id is never sent.
    anon_id = response.cookies[COOKIE].value.split(".")[1]
    assert all(e["distinct_id"] != anon_id for e in posthog.events())


def custom_id(user: User) -> str:
    return f"user-{user.username}"


def no_props(user: User) -> None:
    return None


def test_custom_distinct_id_and_person_properties(
    posthog: Harness, client: Client, ada: User
) -> None:
    posthog.configure(
        DISTINCT_ID="tests.django.test_identity.custom_id",
        PERSON_PROPERTIES=lambda user: {"plan": "pro"},
    )
    log_in(client, "ada", "pw-ada")
    [identify] = posthog.events("$identify")
    assert identify["distinct_id"] == "user-ada"
    assert identify["$set"] == {"plan": "pro"}


def test_person_properties_disabled(posthog: Harness, client: Client, ada: User) -> None:
    posthog.configure(PERSON_PROPERTIES=None)
    client.get("/")
    log_in(client, "ada", "pw-ada")
    client.get("/")
    assert posthog.events("$identify") == []
    assert len(posthog.events("$create_alias")) == 1


@pytest.mark.parametrize("bad", ["0", "null", "anonymous", "x" * 201])
def test_illegal_user_ids_are_sent_as_anonymous(
    posthog: Harness, client: Client, ada: User, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    posthog.configure(DISTINCT_ID=lambda user: bad)
    client.get("/")
    log_in(client, "ada", "pw-ada")
    response = client.get("/")
    assert response.status_code == 200
    events = posthog.events()
    assert {e["event"] for e in events} == {"$pageview"}
    assert all(e["distinct_id"] != bad for e in events)
    assert all(e["properties"]["$process_person_profile"] is False for e in events)
    assert "not" in caplog.text


def test_relogin_of_the_same_user_does_not_alias_again(
    posthog: Harness, client: Client, ada: User
) -> None:
    client.get("/")
    log_in(client, "ada", "pw-ada")
    client.cookies.pop("sessionid")  # the session ends without a logout
    client.get("/")
    log_in(client, "ada", "pw-ada")
    assert len(posthog.events("$create_alias")) == 1


def test_a_second_user_never_joins_the_first(
    posthog: Harness, client: Client, ada: User, bob: User
) -> None:
    anon_id = anon_id_of(client.get("/"))
    log_in(client, "ada", "pw-ada")
    client.cookies.pop("sessionid")  # no logout: Ada's session just expired
    client.get("/")
    log_in(client, "bob", "pw-bob")
    aliases = posthog.events("$create_alias")
    assert [(a["distinct_id"], a["properties"]["alias"]) for a in aliases] == [
        (str(ada.pk), anon_id)
    ]
    persons = posthog.inbox.persons()
    [ada_person] = [p for p in persons if str(ada.pk) in p["distinct_ids"]]
    assert str(bob.pk) not in ada_person["distinct_ids"]


def test_logout_rotates_the_anonymous_id(
    posthog: Harness, client: Client, ada: User, bob: User
) -> None:
    first_anon = anon_id_of(client.get("/"))
    log_in(client, "ada", "pw-ada")
    logout = client.post("/logout/")
    second_anon = anon_id_of(logout)
    assert second_anon != first_anon
    client.get("/")
    log_in(client, "bob", "pw-bob")
    aliases = posthog.events("$create_alias")
    assert [(a["distinct_id"], a["properties"]["alias"]) for a in aliases] == [
        (str(ada.pk), first_anon),
        (str(bob.pk), second_anon),
    ]
    after_logout = [e for e in posthog.pageviews() if e["distinct_id"] == second_anon]
    assert len(after_logout) == 1


def test_first_request_login_does_not_alias_a_fresh_id(
    posthog: Harness, client: Client, ada: User
) -> None:
    log_in(client, "ada", "pw-ada")  # no earlier request: nothing to join
    assert posthog.events("$create_alias") == []
    assert len(posthog.events("$identify")) == 1


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True)
async def test_login_under_the_async_client(
    posthog: Harness, async_client: AsyncClient, ada: User
) -> None:
    anon_id = anon_id_of(await async_client.get("/"))
    response = await async_client.post("/login/", {"username": "ada", "password": "pw-ada"})
    assert response.status_code == 302
    whoami = (await async_client.get("/whoami/")).json()
    assert whoami["distinct_id"] == str(ada.pk)
    assert whoami["identified"] is True
    [alias] = posthog.events("$create_alias")
    assert alias["properties"]["alias"] == anon_id


@pytest.mark.anyio
async def test_async_view_capture(posthog: Harness, async_client: AsyncClient) -> None:
    response = await async_client.post("/async-buy/")
    distinct_id = response.json()["distinct_id"]
    assert anon_id_of(response) == distinct_id
    [event] = posthog.events("purchase_completed")
    assert event["distinct_id"] == distinct_id
    assert event["properties"]["amount"] == 50
    assert event["properties"]["$current_url"] == "http://testserver/async-buy/"


def test_capture_carries_the_request_context(posthog: Harness, client: Client) -> None:
    session_id = uuid7()
    response = client.post("/buy/", HTTP_X_POSTHOG_SESSION_ID=session_id)
    distinct_id = response.json()["distinct_id"]
    assert anon_id_of(response) == distinct_id
    [event] = posthog.events("purchase_completed")
    props = event["properties"]
    assert event["distinct_id"] == distinct_id
    assert props["amount"] == 49
    assert props["$current_url"] == "http://testserver/buy/"
    assert props["$session_id"] == session_id
    assert props["$ip"] == "127.0.0.1"
    assert props["$process_person_profile"] is False


def test_current_inside_and_outside_a_request(
    posthog: Harness,
    client: Client,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The warning is logged once per process: an earlier test may have used it up.
    monkeypatch.setattr(NoopHelper, "_warned", set())
    distinct_id = client.get("/service/").json()["distinct_id"]
    [event] = posthog.events("service_event")
    assert event["distinct_id"] == distinct_id
    helper = posthog_web.current()
    assert isinstance(helper, NoopHelper)
    helper.capture("dropped")
    assert "outside a request" in caplog.text
    with pytest.raises(ValueError, match="event"):
        helper.capture("")


def test_tracing_headers(posthog: Harness, client: Client) -> None:
    browser_id, session_id, window_id = uuid7(), uuid7(), uuid7()
    response = client.get(
        "/",
        HTTP_X_POSTHOG_DISTINCT_ID=browser_id,
        HTTP_X_POSTHOG_SESSION_ID=session_id,
        HTTP_X_POSTHOG_WINDOW_ID=window_id,
    )
    assert COOKIE not in response.cookies
    [event] = posthog.pageviews()
    assert event["distinct_id"] == browser_id
    assert event["properties"]["$session_id"] == session_id
    assert event["properties"]["$window_id"] == window_id
    assert event["properties"]["$process_person_profile"] is False


def test_tracing_headers_can_be_ignored(posthog: Harness, client: Client) -> None:
    posthog.configure(CAPTURE_TRACING_HEADERS=False)
    response = client.get("/", HTTP_X_POSTHOG_DISTINCT_ID=uuid7())
    [event] = posthog.pageviews()
    assert event["distinct_id"] == anon_id_of(response)


def test_non_uuid7_session_header_is_dropped(posthog: Harness, client: Client) -> None:
    client.get("/", HTTP_X_POSTHOG_SESSION_ID="not-a-session")
    [event] = posthog.pageviews()
    # The server's own session instead (sessions.py).
    assert is_uuid7(event["properties"]["$session_id"])


def test_posthog_js_cookie_anonymous_visitor(posthog: Harness, client: Client, ada: User) -> None:
    now = int(time.time() * 1000)
    device, session = uuid7(), uuid7_at(now - 60_000)
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id=device,
        **{
            "$device_id": device,
            "$user_state": "anonymous",
            "$sesid": [now - 1000, session, now - 60_000],
        },
    )
    response = client.get("/")
    assert COOKIE not in response.cookies
    [event] = posthog.pageviews()
    assert event["distinct_id"] == device
    assert event["properties"]["$session_id"] == session
    assert event["properties"]["$process_person_profile"] is False
    log_in(client, "ada", "pw-ada")
    [alias] = posthog.events("$create_alias")
    assert alias["properties"]["alias"] == device


def test_posthog_js_cookie_identified_visitor(posthog: Harness, client: Client) -> None:
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id="customer-17", **{"$device_id": uuid7(), "$user_state": "identified"}
    )
    client.get("/")
    [event] = posthog.pageviews()
    assert event["distinct_id"] == "customer-17"
    assert event["properties"]["$process_person_profile"] is True


def test_stale_posthog_js_session_is_not_reused(posthog: Harness, client: Client) -> None:
    now = int(time.time() * 1000)
    old = now - 3 * 3600 * 1000
    device, stale = uuid7(), uuid7_at(old)
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id=device,
        **{"$device_id": device, "$user_state": "anonymous", "$sesid": [old, stale, old]},
    )
    client.get("/")
    [event] = posthog.pageviews()
    assert event["distinct_id"] == device
    assert event["properties"]["$session_id"] != stale


def test_posthog_js_cookie_can_be_ignored(posthog: Harness, client: Client) -> None:
    posthog.configure(READ_POSTHOG_JS_COOKIE=False)
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id=uuid7(), **{"$user_state": "anonymous"}
    )
    response = client.get("/")
    [event] = posthog.pageviews()
    assert event["distinct_id"] == anon_id_of(response)


def test_logout_retires_the_posthog_js_id(
    posthog: Harness, client: Client, ada: User, bob: User
) -> None:
    device = uuid7()
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id=device, **{"$device_id": device, "$user_state": "anonymous"}
    )
    client.get("/")
    log_in(client, "ada", "pw-ada")
    fresh = anon_id_of(client.post("/logout/"))
    # The browser did not call posthog.reset(): its cookie still holds Ada's anonymous id.
    client.get("/")
    log_in(client, "bob", "pw-bob")
    aliases = [
        (a["distinct_id"], a["properties"]["alias"]) for a in posthog.events("$create_alias")
    ]
    assert aliases == [(str(ada.pk), device), (str(bob.pk), fresh)]
    assert posthog.pageviews()[-1]["distinct_id"] == fresh


def test_after_a_logout_the_next_snippet_resets_posthog_js(
    posthog: Harness, client: Client, ada: User
) -> None:
    # Issue 13 item 4: posthog-js holds Ada (identified) and her session; the logout is a
    # redirect that no posthog-js sees. The next page with the snippet resets it first.
    old_session = uuid7()
    now = int(time.time() * 1000)
    client.cookies[JS_COOKIE] = posthog_js_cookie(
        distinct_id=str(ada.pk), **{"$user_state": "identified", "$sesid": [now, old_session, now]}
    )
    log_in(client, "ada", "pw-ada")
    page = snippet_page(get(**{k: v.value for k, v in client.cookies.items()}))
    assert "Max-Age=0" not in page.content.decode()  # posthog-js holds the server's visitor
    client.post("/logout/")
    page = snippet_page(get(**{k: v.value for k, v in client.cookies.items()}))
    html = page.content.decode()
    assert f'("{JS_COOKIE}","ph_phc_test_")' in html
    assert html.index("Max-Age=0") < html.index("posthog.init(")
    _, options = init_of(html)
    bootstrap = options["bootstrap"]
    assert bootstrap["distinctID"] not in (str(ada.pk), None)
    assert bootstrap["isIdentifiedID"] is False
    assert bootstrap["sessionID"] != old_session
