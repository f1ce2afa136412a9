"""The privacy options through both integrations: cookie attributes, client IP, consent and
the cookieless modes, configured the way users configure them (``POSTHOG_WEB`` keys,
``PostHogMiddleware`` keyword arguments)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client as DjangoClient
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.events import COOKIELESS_SENTINEL
from posthog_web.inbox import InboxServer
from posthog_web.web.identity import OPT_OUT_COOKIE_PREFIX
from tests.asgi.helpers import call, http_scope, run
from tests.security.asgi_apps import bare, starlette_app
from tests.security.conftest import API_KEY, accepted

OWN = ("ph_web_id", "ph_web_session")
UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}


@pytest.fixture
def django_app(settings: Any, sync_client: Client) -> Any:
    settings.ROOT_URLCONF = "tests.security.django_app"

    def configure(**keys: Any) -> None:
        settings.POSTHOG_WEB = {"CLIENT": sync_client, **keys}

    configure()
    return configure


# --- cookie attributes ----------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True])
def test_django_cookie_attributes(django_app: Any, inbox: InboxServer, secure: bool) -> None:
    response = DjangoClient().get("/page/", secure=secure, headers=UA)
    assert set(response.cookies) == set(OWN)
    for name in OWN:
        morsel = response.cookies[name]
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/"
        assert bool(morsel["secure"]) is secure


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_asgi_cookie_attributes(sync_client: Client, inbox: InboxServer, scheme: str) -> None:
    with TestClient(starlette_app(sync_client), base_url=f"{scheme}://testserver") as http:
        headers = http.get("/page", headers=UA).headers.get_list("set-cookie")
    assert sorted(h.split("=")[0] for h in headers) == sorted(OWN)
    for header in headers:
        attributes = [a.strip() for a in header.split(";")[1:]]
        assert "HttpOnly" in attributes
        assert "SameSite=Lax" in attributes
        assert "Path=/" in attributes
        assert ("Secure" in attributes) is (scheme == "https")


# --- client IP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "expected_ip"),
    [
        ({}, "127.0.0.1"),  # the spoofable header is ignored by default
        ({"TRUSTED_PROXIES": ["127.0.0.1"]}, "198.51.100.23"),
        ({"TRUSTED_PROXIES": ["127.0.0.0/8"], "IP_MODE": "anonymize"}, "198.51.100.0"),
        ({"TRUSTED_PROXIES": ["127.0.0.1"], "IP_MODE": "off"}, None),
    ],
)
def test_django_client_ip(
    django_app: Any, inbox: InboxServer, keys: dict[str, Any], expected_ip: str | None
) -> None:
    django_app(**keys)
    DjangoClient().get("/page/", headers={**UA, "X-Forwarded-For": "203.0.113.66, 198.51.100.23"})
    for event in accepted(inbox):
        props: dict[str, Any] = event["properties"]  # type: ignore[assignment]
        assert props.get("$ip") == expected_ip
        assert ("$geoip_disable" in props) is (expected_ip is None)


def test_asgi_client_ip(sync_client: Client, inbox: InboxServer) -> None:
    xff = [(b"x-forwarded-for", b"203.0.113.66, 198.51.100.23"), (b"host", b"example.com")]
    for options, peer, expected in (
        ({}, "10.0.0.5", "10.0.0.5"),
        ({"trusted_proxies": ["10.0.0.0/8"]}, "10.0.0.5", "198.51.100.23"),
        ({"trusted_proxies": ["10.0.0.0/8"]}, "203.0.113.9", "203.0.113.9"),
        ({"trusted_proxies": ["10.0.0.0/8"], "ip_mode": "anonymize"}, "10.0.0.5", "198.51.100.0"),
    ):
        inbox.clear()
        run(call(bare(sync_client, **options), http_scope("/", headers=xff, client=(peer, 1))))
        events = accepted(inbox)
        assert events
        assert {e["properties"]["$ip"] for e in events} == {expected}  # type: ignore[index]
    with TestClient(starlette_app(sync_client)) as http:  # the peer is "testclient"
        inbox.clear()
        http.get("/page", headers={"X-Forwarded-For": "198.51.100.23"})
    for event in accepted(inbox):
        props: dict[str, Any] = event["properties"]  # type: ignore[assignment]
        assert "$ip" not in props
        assert props["$geoip_disable"] is True


# --- consent --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_django_consent(django_app: Any, inbox: InboxServer) -> None:
    User.objects.create_user("alice", password="pw")
    browser = DjangoClient()
    assert set(browser.get("/page/").cookies) == set(OWN)
    inbox.clear()
    gpc = {"Sec-GPC": "1"}
    response = browser.get("/page/", headers=gpc)
    # The anonymous cookie the browser had is expired; nothing new is set.
    assert {k: m.value for k, m in response.cookies.items() if k in OWN}.get("ph_web_id") == ""
    assert browser.post("/login/", {"username": "alice", "password": "pw"}, headers=gpc)
    browser.get("/page/", headers={"DNT": "1"})  # DNT is ignored by default...
    # The login under GPC sent nothing, so the person properties go out now.
    assert [e["event"] for e in accepted(inbox)] == ["$identify", "viewed", "$pageview"]
    inbox.clear()
    django_app(RESPECT_DNT=True)  # ...unless asked for
    browser.get("/page/", headers={"DNT": "1"})
    browser.cookies[OPT_OUT_COOKIE_PREFIX + API_KEY] = "0"  # posthog-js's opt-out
    browser.get("/page/")
    assert accepted(inbox) == []


def test_asgi_consent(sync_client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(sync_client, respect_dnt=True)) as http:
        for headers in ({"Sec-GPC": "1"}, {"DNT": "1"}):
            response = http.get("/login?user=alice", headers=headers)
            assert response.headers.get_list("set-cookie") == []
        http.cookies.set(OPT_OUT_COOKIE_PREFIX + API_KEY, "0")
        http.get("/page")
    assert accepted(inbox) == []


# --- cookieless modes -----------------------------------------------------------------------


@pytest.mark.django_db
def test_django_cookieless_server_hash(django_app: Any, inbox: InboxServer) -> None:
    django_app(COOKIELESS_MODE="server_hash")
    User.objects.create_user("alice", password="pw")
    browser = DjangoClient()
    for _ in range(2):
        response = browser.get("/page/", headers=UA)
        assert not [k for k in response.cookies if k in OWN]
    browser.post("/login/", {"username": "alice", "password": "pw"}, headers=UA)
    events = accepted(inbox)
    anonymous = [e for e in events if e["distinct_id"] == COOKIELESS_SENTINEL]
    assert len(anonymous) == 4
    for event in anonymous:
        props: dict[str, Any] = event["properties"]  # type: ignore[assignment]
        assert props["$cookieless_mode"] is True
        assert props["$process_person_profile"] is False
    assert inbox.events("$create_alias") == []  # nothing to merge a daily hash into
    assert all(k not in OWN for k in browser.cookies)


def test_asgi_cookieless_per_request(sync_client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(sync_client, cookieless_mode="per_request")) as http:
        for _ in range(2):
            assert http.get("/page", headers=UA).headers.get_list("set-cookie") == []
        http.get("/login?user=alice")
    events = accepted(inbox)
    ids = [e["distinct_id"] for e in events if e["distinct_id"] != "alice"]
    assert len(ids) == 4
    assert len(set(ids)) == 2  # one id per request, shared by its events
    assert inbox.events("$create_alias") == []
    assert all(
        e["properties"]["$process_person_profile"] is False
        for e in events
        if e["distinct_id"] != "alice"
    )  # type: ignore[index]
