"""Requests the rules rule out early still give views a working, lazily resolved helper."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import parse_cookie_header, request_view
from posthog_web.inbox import InboxServer
from tests.asgi.apps import starlette_app
from tests.asgi.helpers import BROWSER, http_scope, pageviews, sent


def test_a_ruled_out_request_capturing_keeps_the_returning_visitor(
    client: Client, inbox: InboxServer
) -> None:
    with TestClient(starlette_app(client), headers=BROWSER) as http:
        http.get("/")
        response = http.post("/capture")  # POST: never a page view
        assert "set-cookie" not in response.headers  # id and session were kept
    (view,) = pageviews(client, inbox)
    (clicked,) = sent(client, inbox, "button_clicked")
    assert clicked["distinct_id"] == view["distinct_id"]
    assert clicked["properties"]["$session_id"] == view["properties"]["$session_id"]


def test_page_in_a_view_wins_over_an_excluded_path(client: Client, inbox: InboxServer) -> None:
    with TestClient(starlette_app(client, exclude_paths=[r"^/named"]), headers=BROWSER) as http:
        assert http.get("/named").headers["set-cookie"].startswith("ph_web_id=")
    (view,) = pageviews(client, inbox)
    assert view["properties"]["title"] == "Named"


def test_request_cookies_are_parsed_on_first_use() -> None:
    cookie = (b"cookie", b'a=1; b="two"')
    cookies = request_view(http_scope(headers=[(b"host", b"x"), cookie])).cookies
    assert cookies.get("missing") is None
    assert "missing" not in cookies
    assert "a" in cookies
    assert cookies["b"] == "two"
    assert dict(cookies) == {"a": "1", "b": "two"}
    assert len(cookies) == 2
    assert repr(cookies) == "{'a': '1', 'b': 'two'}"
    assert cookies.get("ab", "none") == "none"
    assert "ab" not in cookies
    assert 3 not in cookies


_COOKIE_TEXT = st.text(alphabet=' ;="abx_', max_size=40)


@given(header=_COOKIE_TEXT, name=st.sampled_from(["a", "ab", "x_b", "b"]))
def test_reading_one_cookie_in_place_agrees_with_the_full_parse(header: str, name: str) -> None:
    raw = [(b"host", b"x"), (b"cookie", header.encode())]
    cookies = request_view(http_scope(headers=raw)).cookies
    assert cookies.get(name, "absent") == parse_cookie_header(header).get(name, "absent")
