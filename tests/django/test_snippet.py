"""``{% posthog_snippet %}`` through PostHogMiddleware, and the settings it reads."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.test import RequestFactory

from posthog_web.django import conf
from posthog_web.django.middleware import PostHogMiddleware
from posthog_web.events import is_uuid7
from posthog_web.web.tracker import TrackerOptions
from tests.django.conftest import Harness
from tests.django.helpers import BROWSER_UA, COOKIE

INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*?\})\);</script>")
PAGE = Template("<head>{% load posthog_web %}{% posthog_snippet %}</head><p>{{ name }}</p>")


def page_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.render(RequestContext(request, {"name": "<b>"})))


def run(request: HttpRequest) -> HttpResponse:
    response = PostHogMiddleware(page_view)(request)
    assert isinstance(response, HttpResponse)
    return response


def init_of(html: str) -> tuple[str, dict[str, Any]]:
    match = INIT.search(html)
    assert match, html
    return json.loads(match.group(1)), json.loads(match.group(2))


def get(path: str = "/", **cookies: str) -> HttpRequest:
    request = RequestFactory().get(path, HTTP_USER_AGENT=BROWSER_UA)
    request.COOKIES.update(cookies)
    return request


def test_the_tag_hands_the_server_visitor_to_posthog_js(posthog: Harness) -> None:
    response = run(get())
    html = response.content.decode()
    assert "<p>&lt;b&gt;</p>" in html
    assert 'document,"/static/posthog-js/array.full.js")' in html
    token, options = init_of(html)
    assert token == "phc_test"
    assert options["api_host"] == posthog.client.host
    assert options["capture_pageview"] is False
    bootstrap = options["bootstrap"]
    assert bootstrap["distinctID"] == response.cookies[COOKIE].value.split(".")[1]
    assert bootstrap["isIdentifiedID"] is False
    assert is_uuid7(bootstrap["sessionID"])
    [view] = posthog.pageviews()
    assert view["distinct_id"] == bootstrap["distinctID"]
    assert view["properties"]["$session_id"] == bootstrap["sessionID"]


@pytest.mark.django_db
def test_a_logged_in_user_is_identified(posthog: Harness) -> None:
    request = get()
    request.user = User.objects.create_user("ada", "ada@example.com", "pw")
    _, options = init_of(run(request).content.decode())
    assert options["bootstrap"]["distinctID"] == str(request.user.pk)
    assert options["bootstrap"]["isIdentifiedID"] is True


def test_settings_configure_the_snippet(posthog: Harness, settings: Any) -> None:
    settings.STATIC_URL = "/assets/"
    posthog.configure(
        POSTHOG_JS_API_HOST="https://eu.i.posthog.com",
        POSTHOG_JS_OPTIONS={"autocapture": False},
    )
    html = run(get()).content.decode()
    assert 'document,"/assets/posthog-js/array.full.js")' in html
    _, options = init_of(html)
    assert options["api_host"] == "https://eu.i.posthog.com"
    assert options["autocapture"] is False
    posthog.configure(POSTHOG_JS_SRC="https://cdn.example.com/array.js")
    assert 'document,"https://cdn.example.com/array.js")' in run(get()).content.decode()


def test_tag_arguments(posthog: Harness) -> None:
    template = Template(
        "{% load posthog_web %}{% posthog_snippet nonce='n1' capture_pageview=True %}"
    )
    response = PostHogMiddleware(
        lambda request: HttpResponse(template.render(RequestContext(request)))
    )(get())
    html = response.content.decode()
    assert html.startswith('<script nonce="n1">')
    assert init_of(html)[1]["capture_pageview"] is True


def test_nothing_without_a_tracked_request(settings: Any) -> None:
    assert (
        Template("{% load posthog_web %}{% posthog_snippet %}").render(RequestContext(get())) == ""
    )
    settings.POSTHOG_WEB = {"DISABLED": True}
    assert "posthog.init" not in run(get()).content.decode()


def test_opted_out_visitor_gets_no_snippet(posthog: Harness) -> None:
    response = run(get(__ph_opt_in_out_phc_test="0"))
    assert "posthog.init" not in response.content.decode()
    assert COOKIE not in response.cookies
    assert posthog.events() == []


# Filled in by conf.tracker_options from Django's own settings, or not a setting at all.
# remember_login: always off in Django, whose session knows the user (docs/django.md).
_DERIVED = {
    "static_prefixes",
    "cookie_secret",
    "record_pageview",
    "posthog_js_src",
    "remember_login",
}


def test_every_tracker_option_is_a_setting() -> None:
    fields = {f.name for f in dataclasses.fields(TrackerOptions)}
    assert fields - _DERIVED <= {key.lower() for key in conf._TRACKER_KEYS}
    not_settings = {"COOKIE_SECRET", "REMEMBER_LOGIN"}
    assert {key.upper() for key in fields} - not_settings <= set(conf.DEFAULTS)
