"""Accepted capture requests: paths, body shapes, encodings and the stored event objects."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any
from urllib.parse import quote

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.inbox.helpers import TOKEN, UUID7, batch, make_event

PATHS = ["/batch", "/capture", "/e", "/i/v0/e", "/track", "/engage"]


def _post(inbox: InboxServer, path: str, **kwargs: Any) -> requests.Response:
    return requests.post(inbox.url + path, timeout=5, **kwargs)


@pytest.mark.parametrize("path", [*PATHS, *(p + "/" for p in PATHS)])
def test_every_capture_path_accepts_a_batch(inbox: InboxServer, path: str) -> None:
    response = _post(inbox, path, json=batch(make_event()))

    assert response.status_code == 200
    assert response.json() == {"status": "Ok"}
    assert inbox.wait_for_events(1)[0]["event"] == "signed_up"
    assert inbox.requests[0].path == path
    assert inbox.requests[0].status == 200


def test_stored_event_object_has_the_documented_keys(inbox: InboxServer) -> None:
    event = make_event(
        uuid=UUID7,
        timestamp="2026-08-22T10:15:02.950000+00:00",
        properties={"plan": "pro"},
        **{"$set": {"email": "a@example.com"}, "$set_once": {"first": 1}},
    )
    body = batch(event, sent_at="2026-08-22T10:15:03.412000+00:00", historical_migration=False)

    assert _post(inbox, "/batch/", json=body).status_code == 200

    assert inbox.events() == [
        {
            "event": "signed_up",
            "distinct_id": "user-1",
            "uuid": UUID7,
            "timestamp": "2026-08-22T10:15:02.950000+00:00",
            "properties": {"plan": "pro"},
            "$set": {"email": "a@example.com"},
            "$set_once": {"first": 1},
            "sent_at": "2026-08-22T10:15:03.412000+00:00",
            "api_key": TOKEN,
        }
    ]


def test_array_shape_takes_the_token_from_each_event(inbox: InboxServer) -> None:
    events = [
        make_event("a", properties={"token": TOKEN}),
        make_event("b", token=TOKEN),
        make_event("c", **{"$token": TOKEN}),
        make_event("d", api_key=f"  {TOKEN} "),
    ]

    assert _post(inbox, "/e/", json=events).status_code == 200

    stored = inbox.events()
    assert [e["event"] for e in stored] == ["a", "b", "c", "d"]
    assert {e["api_key"] for e in stored} == {TOKEN}


def test_single_event_shape(inbox: InboxServer) -> None:
    event = make_event("one", distinct_id=None, properties={"distinct_id": "from-props"})
    event["api_key"] = TOKEN

    assert _post(inbox, "/capture/", json=event).status_code == 200

    assert inbox.events()[0]["distinct_id"] == "from-props"


def test_engage_object_without_event_becomes_identify(inbox: InboxServer) -> None:
    body = {"$distinct_id": "user-9", "$token": TOKEN, "$set": {"name": "Ada"}}

    assert _post(inbox, "/engage/", json=body).status_code == 200

    [stored] = inbox.events()
    assert (stored["event"], stored["distinct_id"], stored["$set"]) == (
        "$identify",
        "user-9",
        {"name": "Ada"},
    )


def test_batch_token_wins_over_event_tokens(inbox: InboxServer) -> None:
    body = batch(make_event(token="phc_other"), make_event(properties={"token": "phc_third"}))

    assert _post(inbox, "/batch/", json=body).status_code == 200
    assert {e["api_key"] for e in inbox.events()} == {TOKEN}


def test_gzip_by_content_encoding_header(inbox: InboxServer) -> None:
    raw = gzip.compress(json.dumps(batch(make_event())).encode())
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}

    assert _post(inbox, "/batch/", data=raw, headers=headers).status_code == 200
    assert len(inbox.events()) == 1


@pytest.mark.parametrize("hint", ["gzip-js", "gzip"])
def test_gzip_by_query_parameter(inbox: InboxServer, hint: str) -> None:
    raw = gzip.compress(json.dumps([make_event(token=TOKEN)]).encode())

    response = _post(
        inbox, f"/e/?compression={hint}", data=raw, headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 200
    assert len(inbox.events()) == 1


def test_gzip_by_magic_bytes_alone(inbox: InboxServer) -> None:
    raw = gzip.compress(json.dumps(batch(make_event())).encode())

    assert _post(inbox, "/batch/", data=raw).status_code == 200
    assert len(inbox.events()) == 1


def test_form_body_with_base64_data_as_posthog_js_sends(inbox: InboxServer) -> None:
    encoded = base64.b64encode(json.dumps(batch(make_event("$pageview"))).encode()).decode()

    response = _post(
        inbox,
        "/e/?compression=base64&ver=1.449.0",
        data="data=" + quote(encoded, safe=""),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert response.status_code == 200
    assert inbox.events()[0]["event"] == "$pageview"


def test_form_body_with_plain_json_and_a_compression_field(inbox: InboxServer) -> None:
    plain = json.dumps([make_event(token=TOKEN)])
    gzipped = base64.b64encode(gzip.compress(json.dumps([make_event("z", token=TOKEN)]).encode()))
    form = "application/x-www-form-urlencoded"

    first = _post(inbox, "/e/", data={"data": plain}, headers={"Content-Type": form})
    # Unescaped "+" in base64 arrives as a space after form decoding; capture copes.
    second = _post(
        inbox,
        "/e/",
        data=b"compression=base64&data=" + gzipped,
        headers={"Content-Type": form},
    )

    assert (first.status_code, second.status_code) == (200, 200)
    assert [e["event"] for e in inbox.events()] == ["signed_up", "z"]


def test_whole_body_strict_base64_json(inbox: InboxServer) -> None:
    raw = base64.b64encode(json.dumps(batch(make_event())).encode())

    assert _post(inbox, "/batch/", data=raw).status_code == 200
    assert len(inbox.events()) == 1


def test_base64_around_gzip(inbox: InboxServer) -> None:
    raw = base64.b64encode(gzip.compress(json.dumps(batch(make_event())).encode()))

    assert _post(inbox, "/e/?compression=b64", data=raw).status_code == 200
    assert len(inbox.events()) == 1


def test_get_with_data_query_parameter(inbox: InboxServer) -> None:
    encoded = base64.b64encode(json.dumps(make_event(token=TOKEN)).encode()).decode()

    response = requests.get(inbox.url + "/e/", params={"data": encoded}, timeout=5)

    assert response.status_code == 200
    assert len(inbox.events()) == 1
    assert inbox.requests[0].decoded()["event"] == "signed_up"


def test_recorded_request_decodes_its_body(inbox: InboxServer) -> None:
    body = batch(make_event(), historical_migration=True)
    raw = gzip.compress(json.dumps(body).encode())

    _post(inbox, "/batch/", data=raw, headers={"Content-Encoding": "gzip", "X-Test": "1"})

    [recorded] = inbox.requests
    assert recorded.method == "POST"
    assert recorded.headers["x-test"] == "1"
    assert recorded.body == raw
    assert recorded.decoded()["historical_migration"] is True


def test_distinct_ids_are_stringified_cleaned_and_truncated(inbox: InboxServer) -> None:
    events = [
        make_event(distinct_id=123),
        make_event(distinct_id={"a": 1}),
        make_event(distinct_id="a\x00b"),
        make_event(distinct_id="x" * 250),
        make_event(distinct_id=True),
    ]

    assert _post(inbox, "/batch/", json=batch(*events)).status_code == 200

    ids = [e["distinct_id"] for e in inbox.events()]
    assert ids == ["123", '{"a":1}', "a\ufffdb", "x" * 200, "true"]


def test_uuid_is_canonical_and_empty_strings_count_as_absent(inbox: InboxServer) -> None:
    events = [
        make_event(uuid=UUID7.upper()),
        make_event(uuid="", timestamp=""),
        make_event(uuid=None, timestamp=None, offset=5),
    ]

    assert _post(inbox, "/batch/", json=batch(*events)).status_code == 200

    stored = inbox.events()
    assert [e["uuid"] for e in stored] == [UUID7, None, None]
    assert stored[1]["timestamp"] is None


def test_performance_events_are_dropped_and_the_request_still_succeeds(
    inbox: InboxServer,
) -> None:
    only_perf = batch(make_event("$performance_event"))
    mixed = batch(make_event("$performance_event"), make_event("kept"))

    assert _post(inbox, "/batch/", json=only_perf).status_code == 200
    assert _post(inbox, "/batch/", json=mixed).status_code == 200
    assert [e["event"] for e in inbox.events()] == ["kept"]


def test_beacon_success_is_204(inbox: InboxServer) -> None:
    response = _post(inbox, "/e/?beacon=1", json=[make_event(token=TOKEN)])

    assert response.status_code == 204
    assert response.content == b""
    assert inbox.requests[0].status == 204


@pytest.mark.parametrize(
    ("param", "expected"),
    [
        ("_=1787393690000", "2026-08-22T10:14:50+00:00"),
        ("sent_at=1787393690000", "2026-08-22T10:14:50+00:00"),
        ("_=1787393690", None),
        ("_=notanumber", None),
        ("_=99999999999999999999999", None),
    ],
)
def test_sent_at_from_the_query(inbox: InboxServer, param: str, expected: str | None) -> None:
    assert _post(inbox, f"/e/?{param}", json=[make_event(token=TOKEN)]).status_code == 200

    assert inbox.events()[0].get("sent_at") == expected


def test_chunked_request_body(inbox: InboxServer) -> None:
    text = json.dumps(batch(make_event())).encode()

    response = _post(inbox, "/batch/", data=iter([text[:10], text[10:]]))

    assert response.status_code == 200
    assert len(inbox.events()) == 1


def test_keep_alive_connection_serves_many_requests(inbox: InboxServer) -> None:
    with requests.Session() as session:
        for i in range(5):
            url = inbox.url + "/batch/"
            assert session.post(url, json=batch(make_event(str(i))), timeout=5).ok

    assert len(inbox.wait_for_events(5)) == 5


def test_filters_on_events(inbox: InboxServer) -> None:
    body = batch(make_event("a", "u1"), make_event("b", "u1"), make_event("a", "u2"))
    _post(inbox, "/batch/", json=body)

    assert [e["distinct_id"] for e in inbox.events(event="a")] == ["u1", "u2"]
    assert [e["event"] for e in inbox.events(distinct_id="u1")] == ["a", "b"]
    assert len(inbox.events(event="a", distinct_id="u2")) == 1
