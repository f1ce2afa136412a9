"""The POSTHOG_WEB settings dict: defaults, fallbacks, caching and rebuilds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.test import Client

from posthog_web import Client as PostHogClient
from posthog_web.django import conf
from posthog_web.web.helper import NoopHelper
from tests.django.conftest import Harness
from tests.django.helpers import COOKIE

client_for_tests = PostHogClient("phc_dotted", disabled=True)


def make_client() -> PostHogClient:
    return client_for_tests


def test_defaults_are_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "django.md").read_text(encoding="utf-8")
    for key in conf.DEFAULTS:
        assert f"`{key}`" in text, key


def test_config_is_cached_until_settings_change(settings: Any) -> None:
    settings.POSTHOG_WEB = {"CLIENT": client_for_tests}
    first = conf.get_config()
    assert conf.get_config() is first
    settings.POSTHOG_WEB = {"CLIENT": client_for_tests, "FILTER_BOTS": False}
    assert conf.get_config() is not first


def test_environment_fallback(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTHOG_API_KEY", "phc_from_env")
    monkeypatch.setenv("POSTHOG_HOST", "https://eu.i.posthog.com")
    settings.POSTHOG_WEB = {"SYNC_MODE": True}
    config = conf.get_config()
    assert config.tracker is not None
    assert config.tracker.client.host == "https://eu.i.posthog.com"
    assert config.owns_client


def test_no_api_key_with_debug_goes_to_the_local_inbox(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)
    settings.DEBUG = True
    settings.POSTHOG_WEB = {}
    with caplog.at_level(logging.INFO, logger="posthog_web"):
        config = conf.get_config()
    assert config.tracker is not None
    assert config.tracker.client.host == conf.LOCAL_INBOX_URL
    assert "local inbox" in caplog.text


def test_no_api_key_without_debug_is_disabled(
    settings: Any, monkeypatch: pytest.MonkeyPatch, db: None
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    settings.DEBUG = False
    settings.POSTHOG_WEB = {}
    response = Client().get("/buy/")
    assert response.status_code == 200  # request.posthog.capture() still works
    assert COOKIE not in response.cookies
    assert conf.get_config().tracker is None


def test_dotted_client_paths(settings: Any) -> None:
    settings.POSTHOG_WEB = {"CLIENT": "tests.django.test_conf.client_for_tests"}
    assert conf.get_config().tracker.client is client_for_tests  # type: ignore[union-attr]
    settings.POSTHOG_WEB = {"CLIENT": "tests.django.test_conf.make_client"}
    assert conf.get_config().tracker.client is client_for_tests  # type: ignore[union-attr]
    assert not conf.get_config().owns_client


def test_invalid_settings_disable_tracking_and_log_once(
    settings: Any, caplog: pytest.LogCaptureFixture, db: None
) -> None:
    settings.POSTHOG_WEB = {"NOPE": 1}
    client = Client()
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 200
    assert caplog.text.count("posthog-web is disabled") == 1
    assert isinstance(conf.get_config().tracker, type(None))


def test_old_client_is_shut_down_when_settings_change(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "DISABLED": True}
    old = conf.get_config()
    assert old.tracker is not None
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "DISABLED": True, "GZIP": False}
    assert conf.get_config() is not old


def test_static_prefixes_default_to_static_and_media(settings: Any) -> None:
    settings.STATIC_URL = "/assets/"
    settings.MEDIA_URL = "https://cdn.example.com/media/"
    settings.POSTHOG_WEB = {"CLIENT": client_for_tests}
    tracker = conf.get_config().tracker
    assert tracker is not None
    assert tracker.options.static_prefixes == ("/assets/",)
    assert tracker.options.cookie_secret == settings.SECRET_KEY


def test_default_person_properties() -> None:
    user = User(username="ada", email="ada@example.com", first_name="Ada")
    assert conf.default_person_properties(user) == {
        "email": "ada@example.com",
        "username": "ada",
        "name": "Ada",
    }
    assert conf.default_person_properties(User(username="x")) == {"username": "x"}
    assert conf.default_person_properties(AnonymousUser()) == {}

    class Plain:
        name = "Plain Person"

    assert conf.default_person_properties(Plain()) == {"name": "Plain Person"}


def test_disabled_helper_says_why(
    settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, db: None
) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.setattr(NoopHelper, "_warned", set())
    settings.POSTHOG_WEB = {}
    Client().post("/buy/")
    assert "no API_KEY" in caplog.text


def test_override_settings_takes_effect(posthog: Harness, client: Client, db: None) -> None:
    client.get("/pricing/")
    posthog.configure(EXCLUDE_PATHS=["^/pricing/"])
    client.get("/pricing/")
    assert len(posthog.pageviews()) == 1
