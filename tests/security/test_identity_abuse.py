"""An attacker's requests cannot take over, or merge into, another person's identity.

Each scenario is a sequence of requests from two browsers (the victim's and the
attacker's) through both middlewares; PostHog's merge rules, applied by the inbox,
then show which ids ended up in one person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client as DjangoClient
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.events import COOKIELESS_SENTINEL, is_uuid, uuid7
from posthog_web.inbox import InboxServer
from posthog_web.web.identity import CookieSigner, posthog_cookie_name
from tests.security.asgi_apps import SECRET_KEY, starlette_app
from tests.security.conftest import API_KEY, accepted

OWN = "ph_web_id"
JS = posthog_cookie_name(API_KEY)
PASSWORD = "correct horse"


class Browser(Protocol):
    def visit(self, headers: dict[str, str] | None = None) -> None: ...
    def login(self, name: str) -> None: ...
    def logout(self) -> None: ...
    def cookie(self, name: str) -> str | None: ...
    def set_cookie(self, name: str, value: str) -> None: ...
    def uid(self, name: str) -> str: ...


class DjangoBrowser:
    def __init__(self) -> None:
        self.client = DjangoClient()

    def visit(self, headers: dict[str, str] | None = None) -> None:
        assert self.client.get("/page/", headers=headers or {}).status_code == 200

    def login(self, name: str) -> None:
        response = self.client.post("/login/", {"username": name, "password": PASSWORD})
        assert response.status_code == 200

    def logout(self) -> None:
        assert self.client.get("/logout/").status_code == 200

    def cookie(self, name: str) -> str | None:
        morsel = self.client.cookies.get(name)
        return morsel.value if morsel is not None and morsel.value else None

    def set_cookie(self, name: str, value: str) -> None:
        self.client.cookies[name] = value

    def uid(self, name: str) -> str:
        return str(User.objects.get(username=name).pk)


class StarletteBrowser:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.user: str | None = None

    def visit(self, headers: dict[str, str] | None = None) -> None:
        sent = dict(headers or {})
        if self.user is not None:
            sent["X-User"] = self.user
        assert self.client.get("/page", headers=sent).status_code == 200

    def login(self, name: str) -> None:
        assert self.client.get("/login", params={"user": name}).status_code == 200
        self.user = name

    def logout(self) -> None:
        assert self.client.get("/logout").status_code == 200
        self.user = None

    def cookie(self, name: str) -> str | None:
        values = [c.value for c in self.client.cookies.jar if c.name == name]
        return values[-1] if values else None

    def set_cookie(self, name: str, value: str) -> None:
        jar = self.client.cookies.jar
        for cookie in [c for c in jar if c.name == name]:
            jar.clear(cookie.domain, cookie.path, cookie.name)
        # The domain the responses' cookies get, so one cookie of each name remains.
        self.client.cookies.set(name, value, domain="testserver.local")

    def uid(self, name: str) -> str:
        return name


@pytest.fixture(params=[pytest.param("django", marks=pytest.mark.django_db), "starlette"])
def browsers(
    request: pytest.FixtureRequest, settings: Any, sync_client: Client, inbox: InboxServer
) -> Iterator[tuple[Browser, Browser]]:
    """The victim's browser and the attacker's, on the same app."""
    if request.param == "django":
        settings.ROOT_URLCONF = "tests.security.django_app"
        settings.POSTHOG_WEB = {"CLIENT": sync_client}
        for name in ("victim", "mallory"):
            User.objects.create_user(name, password=PASSWORD)
        yield DjangoBrowser(), DjangoBrowser()
        return
    app = starlette_app(sync_client)
    with TestClient(app) as victim, TestClient(app) as attacker:
        yield StarletteBrowser(victim), StarletteBrowser(attacker)


def js_cookie(**data: Any) -> str:
    return quote(json.dumps(data), safe="")


def persons_holding(inbox: InboxServer, *ids: str) -> list[dict[str, Any]]:
    return [p for p in inbox.persons() if all(i in p["distinct_ids"] for i in ids)]


def assert_never_merged(inbox: InboxServer, a: str, b: str) -> None:
    accepted(inbox)
    assert persons_holding(inbox, a, b) == [], inbox.persons()


def test_client_ids_never_override_a_logged_in_user(
    browsers: tuple[Browser, Browser], inbox: InboxServer
) -> None:
    victim, attacker = browsers
    victim.visit()
    victim.login("victim")
    victim_cookie = victim.cookie(OWN)
    assert victim_cookie
    attacker.login("mallory")
    attacker.set_cookie(OWN, victim_cookie)
    attacker.set_cookie(
        JS, js_cookie(distinct_id=victim.uid("victim"), **{"$user_state": "identified"})
    )
    inbox.clear()
    attacker.visit({"X-POSTHOG-DISTINCT-ID": victim.uid("victim")})
    events = accepted(inbox)
    assert events
    assert {e["distinct_id"] for e in events} == {attacker.uid("mallory")}
    assert_never_merged(inbox, victim.uid("victim"), attacker.uid("mallory"))


@pytest.mark.parametrize(
    "claimed",
    ["victim-user-id", "null", "anonymous", "0", "None", COOKIELESS_SENTINEL, " ", "x" * 300],
)
def test_non_anonymous_client_ids_are_never_aliased(
    browsers: tuple[Browser, Browser], inbox: InboxServer, claimed: str
) -> None:
    _, attacker = browsers
    attacker.visit({"X-POSTHOG-DISTINCT-ID": claimed})
    attacker.set_cookie(JS, js_cookie(distinct_id=claimed, **{"$user_state": "anonymous"}))
    attacker.visit()
    attacker.login("mallory")
    attacker.visit()
    events = accepted(inbox)
    for event in events:
        props: dict[str, Any] = event["properties"]  # type: ignore[assignment]
        assert props.get("alias") != claimed
        assert props.get("$anon_distinct_id") != claimed
        if claimed != "victim-user-id":  # illegal ids are not used at all
            assert event["distinct_id"] != claimed
    assert inbox.merge_refusals() == []
    assert_never_merged(inbox, claimed, attacker.uid("mallory"))


def test_replayed_linked_cookie_does_not_merge_users(
    browsers: tuple[Browser, Browser], inbox: InboxServer
) -> None:
    victim, attacker = browsers
    victim.visit()
    anon_id = victim.cookie(OWN)
    victim.login("victim")
    linked = victim.cookie(OWN)
    assert anon_id
    assert linked
    assert linked != anon_id
    attacker.set_cookie(OWN, linked)
    attacker.visit()
    attacker.login("mallory")
    attacker.visit()
    aliases = inbox.events("$create_alias")
    assert [a["distinct_id"] for a in aliases] == [victim.uid("victim")]
    assert_never_merged(inbox, victim.uid("victim"), attacker.uid("mallory"))


def test_copied_anonymous_cookie_cannot_join_two_users(
    browsers: tuple[Browser, Browser], inbox: InboxServer
) -> None:
    victim, attacker = browsers
    victim.visit()
    stolen = victim.cookie(OWN)
    assert stolen
    attacker.set_cookie(OWN, stolen)
    attacker.visit()
    attacker.login("mallory")  # the stolen id joins mallory: a bearer cookie, as in posthog-js
    victim.visit()
    victim.login("victim")  # ...but it is never aliased into a second user
    victim.visit()
    assert_never_merged(inbox, victim.uid("victim"), attacker.uid("mallory"))


def test_crafted_posthog_js_cookie_cannot_join_two_users(
    browsers: tuple[Browser, Browser], inbox: InboxServer
) -> None:
    victim, attacker = browsers
    shared = uuid7()  # e.g. leaked through a cached page that bootstrapped it
    crafted = js_cookie(distinct_id=shared, **{"$device_id": shared, "$user_state": "anonymous"})
    for browser, name in ((attacker, "mallory"), (victim, "victim")):
        browser.set_cookie(JS, crafted)
        browser.visit()
        browser.login(name)
        browser.visit()
    assert_never_merged(inbox, victim.uid("victim"), attacker.uid("mallory"))


def test_forged_and_tampered_own_cookies_are_discarded(
    browsers: tuple[Browser, Browser], inbox: InboxServer
) -> None:
    victim, attacker = browsers
    victim.visit()
    genuine = victim.cookie(OWN)
    assert genuine
    victim_anon = genuine.split(".")[1]
    forged = CookieSigner("not-the-secret").dumps(CookieSigner(SECRET_KEY).new())
    forged = forged.replace(forged.split(".")[1], victim_anon)
    flipped = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    body, _, sig = genuine.rpartition(".")
    swapped_id = body.replace(victim_anon, uuid7()) + "." + sig
    for bad in (forged, flipped, swapped_id, genuine + "x", "1." + victim_anon + "....", ""):
        inbox.clear()
        attacker.set_cookie(OWN, bad)
        attacker.visit()
        [event, *_] = accepted(inbox)
        assert event["distinct_id"] != victim_anon
        assert is_uuid(str(event["distinct_id"]))
        fresh = attacker.cookie(OWN)
        assert fresh
        assert fresh != bad
        assert victim_anon not in fresh
    victim.login("victim")
    attacker.login("mallory")
    assert_never_merged(inbox, victim.uid("victim"), attacker.uid("mallory"))
