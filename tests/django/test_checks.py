"""System checks, as `manage.py check` reports them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from posthog_web import Client
from posthog_web.django.checks import check_middleware, check_settings

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "posthog_web.django.PostHogMiddleware",
]


def ids(messages: list[Any]) -> list[str]:
    return [m.id for m in messages]


def test_a_good_configuration_passes(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": "https://eu.i.posthog.com"}
    assert check_settings() == []
    assert check_middleware() == []


def test_test_settings_pass_manage_py_check() -> None:
    # The one message is the Info saying where events go (issue 13, item 8).
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    report = out.getvalue() + err.getvalue()
    assert "System check identified 1 issue" in report
    assert "(posthog_web.I001) posthog-web: nothing is sent: POSTHOG_WEB['DISABLED']" in report
    assert "WARNINGS" not in report
    assert "ERRORS" not in report


def test_not_a_dict(settings: Any) -> None:
    settings.POSTHOG_WEB = ["API_KEY"]
    assert ids(check_settings()) == ["posthog_web.E001"]


def test_unknown_key_with_a_suggestion(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "EXCLUDE_PATH": ["^/x"]}
    [error] = check_settings()
    assert error.id == "posthog_web.E002"
    assert "EXCLUDE_PATH" in error.msg
    assert "EXCLUDE_PATHS" in error.hint


def test_unknown_key_without_a_suggestion(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "ZZZZ": 1}
    [error] = check_settings()
    assert error.hint == "See docs/django.md."


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("API_KEY", 123),
        ("DISABLED", "yes"),
        ("FLUSH_AT", True),
        ("FLUSH_INTERVAL", "1"),
        ("EXCLUDE_PATHS", "^/admin/"),
        ("EXCLUDE_PATHS", [1]),
        ("DISTINCT_ID", 5),
        ("CLIENT", 5),
        ("COOKIE_SECURE", "no"),
    ],
)
def test_wrong_types(settings: Any, key: str, value: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", key: value}
    [error] = check_settings()
    assert error.id == "posthog_web.E003"
    assert repr(key) in error.msg


@pytest.mark.parametrize(
    "extra",
    [
        {"DISTINCT_ID": "no.such.module.func"},
        {"RECORD_PAGEVIEW": "posthog_web.django.conf.LOCAL_INBOX_URL"},
        {"EXCLUDE_PATHS": ["("]},
        {"PERSON_PROFILES": "sometimes"},
        {"HOST": "http://posthog.example.com"},
        {"FLUSH_AT": 0},
        {"CLIENT": "no.such.client"},
        {"CLIENT": "posthog_web.django.conf.LOCAL_INBOX_URL"},
    ],
)
def test_values_the_client_or_tracker_refuse(settings: Any, extra: dict[str, Any]) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", **extra}
    [error] = check_settings()
    assert error.id == "posthog_web.E004"


def test_no_api_key_warns(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    settings.DEBUG = False
    settings.POSTHOG_WEB = {}
    [warning] = check_settings()
    assert warning.id == "posthog_web.W001"


def test_no_api_key_is_fine_when_disabled_or_given_a_client(settings: Any) -> None:
    settings.POSTHOG_WEB = {"DISABLED": True}
    assert check_settings() == []
    client = Client("phc_test", disabled=True)
    settings.POSTHOG_WEB = {"CLIENT": client}
    assert check_settings() == []


def test_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = MIDDLEWARE[:2]
    [warning] = check_middleware()
    assert warning.id == "posthog_web.W002"


def test_middleware_before_authentication(settings: Any) -> None:
    settings.MIDDLEWARE = [MIDDLEWARE[0], MIDDLEWARE[2], MIDDLEWARE[1]]
    [error] = check_middleware()
    assert error.id == "posthog_web.E005"
    with pytest.raises(SystemCheckError, match=r"posthog_web\.E005"):
        call_command("check", stdout=StringIO(), stderr=StringIO())


def test_app_missing_is_reported_by_the_middleware(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.apps import apps

    from posthog_web.django.middleware import PostHogMiddleware

    monkeypatch.setattr(apps, "is_installed", lambda name: False)
    PostHogMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    assert "posthog_web.W003" in caplog.text
