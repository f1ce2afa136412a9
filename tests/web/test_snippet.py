"""The posthog-js snippet: what it hands to the browser, escaped for a <script> element."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.events import is_uuid7
from posthog_web.web import RequestView
from posthog_web.web.helper import NoopHelper
from posthog_web.web.snippet import (
    PostHogJS,
    SafeHTML,
    posthog_snippet,
    render_snippet,
    script_json,
)
from posthog_web.web.tracker import Tracker, TrackerOptions

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
INIT = re.compile(r"posthog\.init\((\"[^\"]*\"),(\{.*\})\);</script>$")


def init_of(html: str) -> tuple[str, dict[str, Any]]:
    """The token and options that the snippet passes to posthog.init."""
    match = INIT.search(html)
    assert match, html
    return json.loads(match.group(1)), json.loads(match.group(2))


def src_of(html: str) -> str:
    match = re.search(r"\}\(window,document,(\"[^\"]*\")\)", html)
    assert match, html
    src: str = json.loads(match.group(1))
    return src


@pytest.fixture
def client() -> Iterator[Client]:
    client = Client("phc_test", transport=RecorderTransport(), host="https://eu.i.posthog.com")
    yield client
    client.shutdown(timeout=5)


def request(cookies: dict[str, str] | None = None) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path="/",
        query_string="",
        headers={"user-agent": UA},
        cookies=cookies or {},
        client_ip="203.0.113.7",
    )


def test_script_json_cannot_close_the_script_element() -> None:
    text = script_json({"a": "</script><!-- & \u2028\u2029 é"})
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text
    assert "\u2028" not in text
    assert "\u2029" not in text
    assert json.loads(text) == {"a": "</script><!-- & \u2028\u2029 é"}
    with pytest.raises(ValueError):
        script_json({"a": float("nan")})


def test_the_snippet_bootstraps_the_server_visitor(client: Client) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(request())
    html = posthog_snippet(ctx.helper)
    assert isinstance(html, SafeHTML)
    assert html.__html__() == html
    assert html.startswith("<script>")
    assert src_of(html) == "/static/posthog-js/array.full.js"
    token, options = init_of(html)
    assert token == "phc_test"
    assert options["api_host"] == "https://eu.i.posthog.com"
    assert options["capture_pageview"] is False
    bootstrap = options["bootstrap"]
    assert bootstrap["distinctID"] == ctx.helper.distinct_id
    assert bootstrap["isIdentifiedID"] is False
    assert is_uuid7(bootstrap["sessionID"])
    # What the page hands to posthog-js is what the server's cookies continue.
    names = {c.name for c in tracker.response_cookies(ctx)}
    assert names == {"ph_web_id", "ph_web_session"}


def test_a_logged_in_user_is_handed_over_as_identified(client: Client) -> None:
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    ctx = tracker.start(request())
    tracker.set_user(ctx, "user-42")
    _, options = init_of(posthog_snippet(ctx.helper))
    assert options["bootstrap"]["distinctID"] == "user-42"
    assert options["bootstrap"]["isIdentifiedID"] is True


def test_configured_and_per_call_options(client: Client) -> None:
    tracker = Tracker(
        client,
        TrackerOptions(
            cookie_secret="s",
            posthog_js_src="https://cdn.example.com/ph.js",
            posthog_js_api_host="https://ph.example.com",
            posthog_js_options={"persistence": "localStorage+cookie", "autocapture": False},
        ),
    )
    helper = tracker.start(request()).helper
    html = posthog_snippet(helper)
    assert src_of(html) == "https://cdn.example.com/ph.js"
    _, options = init_of(html)
    assert options["api_host"] == "https://ph.example.com"
    assert options["autocapture"] is False
    assert options["persistence"] == "localStorage+cookie"
    html = posthog_snippet(
        helper,
        script_src="/js/ph.js",
        api_host="https://other.example.com",
        capture_pageview=True,
        options={"ui_host": "https://eu.posthog.com", "name": "</script>"},
        nonce='abc"def',
    )
    assert html.startswith('<script nonce="abc&quot;def">')
    assert src_of(html) == "/js/ph.js"
    _, options = init_of(html)
    assert options["api_host"] == "https://other.example.com"
    assert options["capture_pageview"] is True
    assert options["ui_host"] == "https://eu.posthog.com"
    assert options["name"] == "</script>"
    assert html.count("</script>") == 1


def test_bad_snippet_options_are_refused() -> None:
    with pytest.raises(TypeError, match="posthog_js_options must be JSON-compatible"):
        TrackerOptions(posthog_js_options={"f": object()})
    with pytest.raises(TypeError, match="posthog_js_options must be a dict"):
        TrackerOptions(posthog_js_options=["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="posthog_js_api_host"):
        TrackerOptions(posthog_js_api_host="ph.example.com")
    with pytest.raises(ValueError, match="posthog_js_src"):
        TrackerOptions(posthog_js_src=" ")


def test_nothing_is_rendered_outside_a_request_or_for_an_opted_out_visitor(
    client: Client,
) -> None:
    assert posthog_snippet() == ""
    assert posthog_snippet(NoopHelper()) == ""
    assert posthog_snippet(object()) == ""
    tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
    opted_out = tracker.start(request({"__ph_opt_in_out_phc_test": "0"}))
    assert posthog_snippet(opted_out.helper) == ""


def test_render_snippet_alone() -> None:
    html = render_snippet(PostHogJS("phc_x", "/ph.js", {"api_host": "https://h"}))
    assert init_of(html) == ("phc_x", {"api_host": "https://h"})
