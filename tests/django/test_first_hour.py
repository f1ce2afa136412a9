"""The first-hour rough edges of issue 13, item 8, as a Django app meets them."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import Context, Template
from django.test import Client, RequestFactory

from posthog_web.django.checks import check_destination, check_posthog_js_file, check_settings
from posthog_web.django.middleware import PostHogMiddleware
from tests.django.conftest import Harness
from tests.django.helpers import BROWSER_UA

INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>")


@pytest.fixture
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    monkeypatch.delenv("POSTHOG_HOST", raising=False)


def test_a_host_without_a_scheme_is_named_not_reported_as_no_key(
    settings: Any, no_env_key: None
) -> None:
    settings.POSTHOG_WEB = {"HOST": "127.0.0.1:8010"}
    [error] = check_settings()
    assert error.id == "posthog_web.E004"
    assert "POSTHOG_WEB['HOST'] (or POSTHOG_HOST) must be an http(s) URL" in error.msg
    assert "'127.0.0.1:8010'" in error.msg
    assert "API_KEY" not in error.msg


def test_the_insecure_http_hint_names_the_setting(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": "http://ph.example.com"}
    [error] = check_settings()
    assert "POSTHOG_WEB['ALLOW_INSECURE_HTTP'] = True" in error.msg
    assert "allow_insecure_http=True" not in error.msg
    settings.POSTHOG_WEB = {**settings.POSTHOG_WEB, "ALLOW_INSECURE_HTTP": True}
    assert check_settings() == []


@pytest.mark.parametrize(
    ("debug", "posthog_web", "expected"),
    [
        (
            False,
            {"API_KEY": "phc_x", "HOST": "https://eu.i.posthog.com"},
            "events go to https://eu.i.posthog.com",
        ),
        (True, {}, "events go to the local inbox at http://127.0.0.1:8010"),
        (False, {}, "nothing is sent: no API_KEY"),
        (False, {"DISABLED": True}, "nothing is sent: POSTHOG_WEB['DISABLED'] is True"),
    ],
)
def test_manage_py_check_says_where_events_go(
    settings: Any, no_env_key: None, debug: bool, posthog_web: dict[str, Any], expected: str
) -> None:
    settings.DEBUG = debug
    settings.POSTHOG_WEB = posthog_web
    [info] = check_destination()
    assert info.id == "posthog_web.I001"
    assert info.msg.startswith(f"posthog-web: {expected}")


@pytest.mark.django_db
def test_events_going_nowhere_warn_once(
    settings: Any, no_env_key: None, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DEBUG = False
    settings.POSTHOG_WEB = {}
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        for _ in range(3):
            Client().get("/")
    warned = [r for r in caplog.records if "no API_KEY" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelno == logging.WARNING


@pytest.fixture
def staticfiles(settings: Any, tmp_path: Path) -> Path:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.staticfiles"]
    settings.STATICFILES_DIRS = [tmp_path]
    settings.POSTHOG_WEB = {"DISABLED": True}
    return tmp_path


def test_a_missing_posthog_js_static_file_warns(settings: Any, staticfiles: Path) -> None:
    # The default path is not a system check (apps without the snippet need no file)...
    assert check_posthog_js_file() == []
    # ...an explicit one is.
    settings.POSTHOG_WEB = {"DISABLED": True, "POSTHOG_JS_SRC": "/static/posthog-js/array.full.js"}
    [warning] = check_posthog_js_file()
    assert warning.id == "posthog_web.W004"
    assert "'posthog-js/array.full.js'" in warning.msg
    (staticfiles / "posthog-js").mkdir()
    (staticfiles / "posthog-js" / "array.full.js").write_text("/* posthog-js */")
    assert check_posthog_js_file() == []


def test_the_tag_warns_once_when_the_default_posthog_js_is_missing(
    posthog: Harness, settings: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.staticfiles"]
    settings.STATICFILES_DIRS = [tmp_path]
    page = Template("{% load posthog_web %}{% posthog_snippet %}")

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(page.render(Context({})))

    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        for _ in range(3):
            PostHogMiddleware(view)(RequestFactory().get("/", HTTP_USER_AGENT=BROWSER_UA))
    warned = [r for r in caplog.records if "posthog_web.W004" in r.getMessage()]
    assert len(warned) == 1
    assert "'posthog-js/array.full.js'" in warned[0].getMessage()


def test_posthog_js_from_elsewhere_is_not_checked(settings: Any, staticfiles: Path) -> None:
    settings.POSTHOG_WEB = {"DISABLED": True, "POSTHOG_JS_SRC": "https://cdn.example.com/a.js"}
    assert check_posthog_js_file() == []
    settings.POSTHOG_WEB = {"DISABLED": True, "POSTHOG_JS_SRC": "/static/js/ph.js"}
    [warning] = check_posthog_js_file()
    assert "'js/ph.js'" in warning.msg


def test_the_tag_needs_no_request_context_processor(posthog: Harness) -> None:
    # A plain Context: no `request` in it, as without the context processor.
    page = Template("{% load posthog_web %}{% posthog_snippet %}")

    def view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(page.render(Context({})))

    request = RequestFactory().get("/", HTTP_USER_AGENT=BROWSER_UA)
    response = PostHogMiddleware(view)(request)
    match = INIT.search(response.content.decode())
    assert match
    bootstrap = json.loads(match.group(2))["bootstrap"]
    assert bootstrap["distinctID"] == response.cookies["ph_web_id"].value.split(".")[1]


@pytest.mark.django_db
def test_a_skipped_page_is_logged_at_debug_and_counted(
    posthog: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    from posthog_web.django import conf

    with caplog.at_level(logging.DEBUG, logger="posthog_web.web.tracker"):
        Client(HTTP_USER_AGENT="curl/8.5.0").get("/")
        Client(HTTP_USER_AGENT=BROWSER_UA).get("/health/")
        Client(HTTP_USER_AGENT=BROWSER_UA).get("/")
    messages = [r.getMessage() for r in caplog.records if r.name == "posthog_web.web.tracker"]
    assert "posthog-web: no page view for GET /: bot" in messages
    assert "posthog-web: no page view for GET /health/: excluded_path" in messages
    tracker = conf.get_config().request_tracker()
    assert tracker is not None
    assert tracker.stats() == {"skipped": {"bot": 1, "excluded_path": 1}}
    assert len(posthog.pageviews()) == 1
