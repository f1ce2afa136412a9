"""Feature flags in Django: request.posthog, the template tags, the FLAGS_* settings, checks.

The client fetches definitions from the flags stand-in on 127.0.0.1, which also receives
the events: what it received is what is checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient
from django.test import Client as DjangoClient

from posthog_web import Client
from posthog_web.django import conf
from posthog_web.django.checks import check_settings
from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.web.test_flags import CHECKOUT, CONTINUITY, NEEDS_EMAIL, OFF

COLORS = {"control": "grey", "test-a": "red", "test-b": "blue"}


@pytest.fixture
def server(settings: Any) -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    server.definitions = {
        "flags": [CHECKOUT, NEEDS_EMAIL, CONTINUITY, OFF],
        "group_type_mapping": {},
        "cohorts": {},
    }
    client = Client(
        TOKEN, host=server.url, sync_mode=True, flags_secret_key=SECRET, flags_timeout=1.0
    )
    client.flags.definitions(wait=5)
    settings.ROOT_URLCONF = "tests.django.flag_urls"
    settings.POSTHOG_WEB = {"CLIENT": client}
    try:
        yield server
    finally:
        client.shutdown(timeout=1.0)
        server.stop()


def events(server: FlagsServer, name: str) -> list[dict[str, Any]]:
    with server.lock:
        return [e for e in server.events if e["event"] == name]


def test_a_view_reads_a_flag_and_the_page_view_carries_it(server: FlagsServer) -> None:
    browser = DjangoClient()
    response = browser.get("/banner/", HTTP_ACCEPT="text/html")
    variant = re.search(r"<p>(.*)</p>", response.content.decode())[1]  # type: ignore[index]
    assert variant in COLORS
    (view,) = events(server, "$pageview")
    assert view["properties"]["$feature/checkout-test"] == variant
    assert view["properties"]["$active_feature_flags"] == ["checkout-test"]
    (called,) = events(server, "$feature_flag_called")
    assert called["distinct_id"] == view["distinct_id"]
    assert called["properties"]["$current_url"].endswith("/banner/")
    # The same visitor on the next page: the same variant, no second $feature_flag_called.
    browser.get("/banner/", HTTP_ACCEPT="text/html")
    second = events(server, "$pageview")[1]
    assert second["distinct_id"] == view["distinct_id"]
    assert second["properties"]["$feature/checkout-test"] == variant
    assert len(events(server, "$feature_flag_called")) == 1
    assert server.made("flags") == []


def test_template_tags_and_the_bootstrap_agree(server: FlagsServer) -> None:
    html = DjangoClient().get("/templated/", HTTP_ACCEPT="text/html").content.decode()
    variant = re.search(r'<p id="variant">(.*?)</p>', html)[1]  # type: ignore[index]
    assert variant in COLORS
    assert '<p id="on">True</p>' in html
    assert f'<p id="color">{COLORS[variant]}</p>' in html
    init = html[html.index("posthog.init(") + len("posthog.init(") : html.index(");</script>")]
    _token, options = json.loads(f"[{init}]")
    bootstrap = options["bootstrap"]
    assert bootstrap["featureFlags"]["checkout-test"] == variant
    assert json.loads(bootstrap["featureFlagPayloads"]["checkout-test"]) == {
        "color": COLORS[variant]
    }
    assert "sticky" not in bootstrap["featureFlags"]  # only the server decides it
    (view,) = events(server, "$pageview")
    assert view["distinct_id"] == bootstrap["distinctID"]
    assert view["properties"]["$feature/checkout-test"] == variant
    assert server.made("flags") == []


@pytest.mark.django_db
def test_the_users_person_properties_decide_locally(server: FlagsServer) -> None:
    user = User.objects.create_user("ann", email="ann@corp.example", password="x")
    browser = DjangoClient()
    browser.force_login(user)
    assert browser.get("/corp/").json() == {"corp": True, "id": str(user.pk)}
    assert server.made("flags") == []
    anonymous = DjangoClient().get("/corp/").json()
    assert anonymous["corp"] is False  # no email: the server was asked (it has no record)
    assert server.made("flags")[0]["json"]["distinct_id"] == anonymous["id"]


@pytest.mark.anyio
async def test_async_views_await_the_flags(server: FlagsServer) -> None:
    body = (await AsyncClient().get("/async-banner/")).json()
    assert body["variant"] in COLORS
    assert body["corp"] is False
    assert body["all"]["checkout-test"] == body["variant"]
    assert body["all"]["dark-mode"] is False
    called = events(server, "$feature_flag_called")
    assert {e["properties"]["$feature_flag"] for e in called} == {"checkout-test", "corp-only"}
    assert {e["distinct_id"] for e in called} == {body["distinct_id"]}


def test_flags_settings_build_a_locally_evaluating_client(
    settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("POSTHOG_FLAGS_SECRET_KEY", raising=False)
    raw = {
        "API_KEY": "phc_test",
        "HOST": "http://127.0.0.1:9",  # loopback: under pytest other hosts are never contacted
        "FLAGS_SECRET_KEY": "phx_personal",
        "FLAGS_POLL_INTERVAL": 5,
        "FLAGS_TIMEOUT": 0.5,
        "FLAGS_CACHE_DIR": str(tmp_path),
    }
    built = conf.build(raw, quiet=True)
    assert built.tracker is not None
    flags = built.tracker.client.flags
    try:
        assert flags.poller is not None
        assert flags.timeout == 0.5
        assert "phx_personal" not in repr(built.tracker.client) + repr(flags)
    finally:
        built.tracker.client.shutdown(timeout=1.0)
    without = conf.build({"API_KEY": "phc_test", "HOST": "http://127.0.0.1:9"}, quiet=True)
    assert without.tracker is not None
    assert without.tracker.client.flags.poller is None  # remote evaluation
    without.tracker.client.shutdown(timeout=1.0)
    monkeypatch.setenv("POSTHOG_FLAGS_SECRET_KEY", "phx_from_env")
    from_env = conf.build({"API_KEY": "phc_test", "HOST": "http://127.0.0.1:9"}, quiet=True)
    assert from_env.tracker is not None
    assert from_env.tracker.client.flags.poller is not None
    from_env.tracker.client.shutdown(timeout=1.0)


def test_checks_name_a_project_key_a_missing_host_and_bad_types(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POSTHOG_FLAGS_SECRET_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "FLAGS_SECRET_KEY": "phc_test"}
    (error,) = check_settings()
    assert error.id == "posthog_web.E006"
    assert "phc_test" not in error.msg
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "FLAGS_SECRET_KEY": "phx_k"}
    (warning,) = check_settings()
    assert warning.id == "posthog_web.W005"
    assert "phx_k" not in warning.msg
    settings.POSTHOG_WEB = {
        "API_KEY": "phc_test",
        "HOST": "https://eu.i.posthog.com",
        "FLAGS_SECRET_KEY": "phx_k",
    }
    assert check_settings() == []
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "FLAGS_TIMEOUT": "3"}
    (bad,) = check_settings()
    assert bad.id == "posthog_web.E003"
    assert "FLAGS_TIMEOUT" in bad.msg
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "FLAGS_TIMEOUT": 0}
    (refused,) = check_settings()
    assert refused.id == "posthog_web.E004"
    assert "flags_timeout" in refused.msg
    monkeypatch.setenv("POSTHOG_FLAGS_SECRET_KEY", "phc_env")
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": "https://eu.i.posthog.com"}
    assert [m.id for m in check_settings()] == ["posthog_web.E006"]
