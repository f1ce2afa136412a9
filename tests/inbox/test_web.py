"""The HTML pages, the JSON API, the posthog-js endpoints and CORS."""

from __future__ import annotations

import requests

from posthog_web.inbox import InboxServer
from posthog_web.inbox.page import mask_key
from posthog_web.inbox.sessions import is_uuid7
from tests.inbox.helpers import TOKEN, UUID4, UUID7, batch, make_event

XSS = "<script>alert(1)</script>"


def _send(inbox: InboxServer, *events: dict[str, object]) -> None:
    response = requests.post(inbox.url + "/batch/", json=batch(*events), timeout=5)
    assert response.status_code == 200


def _get(inbox: InboxServer, path: str, **kwargs: object) -> requests.Response:
    return requests.get(inbox.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_events_page_escapes_untrusted_values_and_masks_the_key(inbox: InboxServer) -> None:
    _send(
        inbox,
        make_event(XSS, f'"><img src=x onerror=alert(2)>{XSS}', properties={"token": TOKEN}),
    )

    response = _get(inbox, "/")

    html = response.text
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert XSS not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert TOKEN not in html
    assert mask_key(TOKEN) in html
    assert "<details>" in html
    assert "setInterval" in html


def test_events_page_filters_by_query_parameters(inbox: InboxServer) -> None:
    _send(inbox, make_event("wanted_event", "alice"), make_event("other_event", "bob"))

    by_event = _get(inbox, "/", params={"event": "wanted_event"}).text
    by_person = _get(inbox, "/", params={"distinct_id": "bob"}).text
    empty = _get(inbox, "/", params={"event": "nothing"}).text

    assert "wanted_event" in by_event
    assert "other_event" not in by_event
    assert "other_event" in by_person
    assert "wanted_event" not in by_person
    assert "No events yet." in empty
    assert 'href="/?event=wanted_event"' in _get(inbox, "/").text


def test_mask_key() -> None:
    assert mask_key("phc_abcdefghij12") == "phc_…ij12"
    assert mask_key("short") == "…"


def test_persons_page_shows_merges_and_refusals(inbox: InboxServer) -> None:
    _send(
        inbox,
        make_event("$identify", XSS, properties={"$anon_distinct_id": "anon-1"}),
        make_event("$identify", "u2", properties={"$anon_distinct_id": "null"}),
    )

    html = _get(inbox, "/persons/").text

    assert XSS not in html
    assert "anon-1" in html
    assert "cannot_merge_with_illegal_distinct_id" in html


def test_sessions_page_groups_pageviews_and_flags_bad_ids(inbox: InboxServer) -> None:
    def view(session: object, url: str) -> dict[str, object]:
        props = (
            {"$current_url": url}
            if session is None
            else {"$session_id": session, "$current_url": url}
        )
        return make_event("$pageview", properties=props)

    _send(
        inbox,
        view(UUID7, "https://a.example/1"),
        view(UUID7, "https://a.example/2"),
        view(UUID4, XSS),
        view(None, "https://a.example/3"),
        view(5, "https://a.example/4"),
        make_event("not_a_pageview", properties={"$session_id": UUID7}),
    )

    sessions = inbox.sessions()
    html = _get(inbox, "/sessions").text

    assert [(s["session_id"], s["pageviews"], s["valid_uuid7"]) for s in sessions] == [
        (UUID7, 2, True),
        (UUID4, 1, False),
        (None, 1, False),
        ("5", 1, False),
    ]
    assert sessions[0]["entry_url"] == "https://a.example/1"
    assert sessions[0]["exit_url"] == "https://a.example/2"
    assert XSS not in html
    assert "not a UUIDv7" in html
    assert "no $session_id" in html
    assert _get(inbox, "/api/sessions").json() == {"sessions": sessions}


def test_is_uuid7() -> None:
    assert is_uuid7(UUID7)
    assert not is_uuid7(UUID4)
    assert not is_uuid7(UUID7.replace("-", ""))
    assert not is_uuid7(None)


def test_json_api(inbox: InboxServer) -> None:
    _send(inbox, make_event("a", "u1"), make_event("b", "u1"), make_event("a", "u2"))

    everything = _get(inbox, "/api/events").json()["events"]
    only_a = _get(inbox, "/api/events", params={"event": "a"}).json()["events"]
    only_u2 = _get(inbox, "/api/events?distinct_id=u2").json()["events"]
    latest = _get(inbox, "/api/events?limit=2").json()["events"]

    assert everything == inbox.events()
    assert [e["distinct_id"] for e in only_a] == ["u1", "u2"]
    assert [e["event"] for e in only_u2] == ["a"]
    assert [e["event"] for e in latest] == ["b", "a"]
    assert _get(inbox, "/api/events?limit=x").status_code == 400
    assert _get(inbox, "/api/events?limit=%C2%B2").status_code == 400
    assert _get(inbox, "/api/health").json() == {"ok": True}
    assert _get(inbox, "/api/persons").json()["persons"]
    summary = _get(inbox, "/api/requests").json()["requests"]
    assert [(r["method"], r["path"], r["status"]) for r in summary] == [("POST", "/batch/", 200)]


def test_posthog_js_endpoints(inbox: InboxServer) -> None:
    script = _get(inbox, f"/array/{TOKEN}/config.js")
    config = _get(inbox, f"/array/{TOKEN}/config")
    flags = requests.post(
        inbox.url + "/flags/?v=2&compression=base64",
        data={"data": "eyJ0b2tlbiI6ICJwaGNfeCJ9"},
        timeout=5,
    )
    decide = _get(inbox, "/decide/?v=3")
    recording = requests.post(inbox.url + "/s/?compression=gzip-js", data=b"\x1f\x8b", timeout=5)

    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("application/javascript")
    assert config.status_code == 200
    assert isinstance(config.json(), dict)
    answer = flags.json()
    assert isinstance(answer.pop("requestId"), str)
    assert isinstance(answer.pop("evaluatedAt"), int)
    assert answer == {
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
    }
    assert decide.json()["featureFlags"] == {}
    assert recording.status_code == 200
    # None of these is a capture request.
    assert inbox.requests == []
    assert inbox.events() == []


def test_unknown_paths_and_methods_are_404(inbox: InboxServer) -> None:
    assert _get(inbox, "/nope").status_code == 404
    assert _get(inbox, "/array/x/other").status_code == 404
    assert _get(inbox, "/api/unknown").status_code == 404
    assert requests.post(inbox.url + "/persons", timeout=5).status_code == 404


def test_head_answers_without_a_body(inbox: InboxServer) -> None:
    response = requests.head(inbox.url + "/", timeout=5)

    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.content == b""


def test_cors_preflight_mirrors_origin_and_requested_headers(inbox: InboxServer) -> None:
    response = requests.options(
        inbox.url + "/e/?compression=gzip-js",
        headers={
            "Origin": "http://localhost:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-custom",
            "Access-Control-Request-Private-Network": "true",
        },
        timeout=5,
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-custom"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert inbox.requests == []


def test_cors_headers_on_capture_responses(inbox: InboxServer) -> None:
    origin = {"Origin": "http://127.0.0.1:5173"}
    ok = requests.post(inbox.url + "/e/", json=[make_event(token=TOKEN)], headers=origin, timeout=5)
    refused = requests.post(inbox.url + "/e/", json=[], headers=origin, timeout=5)
    plain = requests.post(inbox.url + "/e/", json=[make_event(token=TOKEN)], timeout=5)

    for response in (ok, refused):
        assert response.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5173"
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "Access-Control-Allow-Origin" not in plain.headers
