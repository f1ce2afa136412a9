"""Refused capture requests: each validation rule, its status and error body; nothing stored."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_web.inbox import InboxServer
from posthog_web.inbox.validation import Accepted, Refusal, validate_capture
from tests.inbox.helpers import TOKEN, batch, make_event, raw_http

GOOD = make_event()

REFUSALS: list[tuple[str, Any, int, str]] = [
    ("batch without token", {"batch": [GOOD]}, 400, "request_hydration_error"),
    (
        "batch with non-string token",
        {"api_key": 5, "batch": [GOOD]},
        400,
        "request_hydration_error",
    ),
    (
        "object without event",
        {"distinct_id": "u", "api_key": TOKEN},
        400,
        "request_hydration_error",
    ),
    ("empty batch", batch(), 400, "empty_batch"),
    ("empty array", [], 400, "empty_batch"),
    ("batch not an array", {"api_key": TOKEN, "batch": {}}, 400, "invalid_payload"),
    ("bad sent_at", batch(GOOD, sent_at="yesterday"), 400, "invalid_payload"),
    ("numeric sent_at", batch(GOOD, sent_at=5), 400, "invalid_payload"),
    ("bad historical_migration", batch(GOOD, historical_migration="yes"), 400, "invalid_payload"),
    ("scalar body", 42, 400, "invalid_payload"),
    ("event not an object", batch("x"), 400, "invalid_payload"),
    ("missing event", batch({"distinct_id": "u"}), 400, "missing_event_name"),
    ("empty event", batch(make_event("")), 400, "missing_event_name"),
    ("event not a string", batch(make_event(5)), 400, "invalid_payload"),
    ("missing distinct_id", batch({"event": "e"}), 400, "missing_distinct_id"),
    ("null distinct_id", batch(make_event(distinct_id=None)), 400, "missing_distinct_id"),
    ("empty distinct_id", batch(make_event(distinct_id="")), 400, "missing_distinct_id"),
    ("numeric timestamp", batch(make_event(timestamp=1700000000)), 400, "invalid_timestamp"),
    ("bad uuid", batch(make_event(uuid="not-a-uuid")), 400, "invalid_uuid"),
    ("numeric uuid", batch(make_event(uuid=7)), 400, "invalid_uuid"),
    ("properties a list", batch(make_event(properties=[])), 400, "invalid_payload"),
    ("properties null", batch(make_event(properties=None)), 400, "invalid_payload"),
    ("offset a string", batch(make_event(offset="5")), 400, "invalid_payload"),
    ("$set a list", batch(make_event(**{"$set": [1]})), 400, "invalid_payload"),
    (
        "$cookieless_mode not a bool",
        batch(make_event(properties={"$cookieless_mode": "yes"})),
        400,
        "invalid_cookieless",
    ),
    ("event token not a string", [make_event(token=5)], 400, "invalid_payload"),
    ("no token anywhere", [make_event()], 401, "ingest_key_required"),
    (
        "one event without token",
        [make_event(token=TOKEN), make_event()],
        401,
        "ingest_key_required",
    ),
    ("empty token", batch(GOOD, token="  "), 401, "ingest_key_required"),
    ("token over 64 chars", batch(GOOD, token="phc_" + "a" * 61), 403, "ingest_key_invalid"),
    ("non-ASCII token", batch(GOOD, token="phc_é"), 403, "ingest_key_invalid"),
    ("NUL in token", batch(GOOD, token="phc_a\x00b"), 403, "ingest_key_invalid"),
    ("personal API key", batch(GOOD, token="phx_personal"), 403, "personal_api_key"),
    (
        "different tokens",
        [make_event(token=TOKEN), make_event(token="phc_other")],
        400,
        "multiple_tokens",
    ),
]


@pytest.mark.parametrize(
    ("payload", "status", "code"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_refusal(inbox: InboxServer, payload: Any, status: int, code: str) -> None:
    response = requests.post(inbox.url + "/batch/", json=payload, timeout=5)

    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["type"] in ("validation_error", "authentication_error")
    assert body["detail"]
    assert inbox.events() == []
    assert inbox.requests[0].status == status
    assert inbox.requests[0].error == body["detail"]


def test_one_bad_event_sinks_the_whole_request(inbox: InboxServer) -> None:
    body = batch(make_event("ok"), make_event("bad", distinct_id=None), make_event("ok2"))

    assert requests.post(inbox.url + "/batch/", json=body, timeout=5).status_code == 400
    assert inbox.events() == []


UNDECODABLE = [
    ("not json", b"{nope", {}),
    ("empty body", b"", {}),
    ("bad gzip by header", b"definitely not gzip", {"Content-Encoding": "gzip"}),
    ("truncated gzip", gzip.compress(b'{"a": 1}' * 50)[:20], {}),
    ("NaN", b'[{"event": "e", "distinct_id": NaN}]', {}),
    ("lone surrogate", b'[{"event": "\\ud800", "distinct_id": "u"}]', {}),
    ("not UTF-8", b'[{"event": "\xff", "distinct_id": "u"}]', {}),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, {}),
    (
        "form without data",
        b"compression=base64",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    ("non-ASCII form", "data=é".encode(), {"Content-Type": "application/x-www-form-urlencoded"}),
]


@pytest.mark.parametrize(
    ("body", "headers"), [u[1:] for u in UNDECODABLE], ids=[u[0] for u in UNDECODABLE]
)
def test_undecodable_body_is_400(inbox: InboxServer, body: bytes, headers: dict[str, str]) -> None:
    response = requests.post(inbox.url + "/e/", data=body, headers=headers, timeout=5)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"


@pytest.mark.parametrize(
    ("query", "code"),
    [("compression=base64", "invalid_payload"), ("compression=lz64", "unsupported_compression")],
)
def test_bad_compression_hint_is_400(inbox: InboxServer, query: str, code: str) -> None:
    response = requests.post(inbox.url + f"/e/?{query}", data=b"{*not base64*}", timeout=5)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_body_over_the_route_limit_is_413(inbox: InboxServer) -> None:
    big = json.dumps([make_event(token=TOKEN, properties={"x": "a" * (2 * 1024 * 1024)})])

    response = requests.post(inbox.url + "/e/", data=big, timeout=10)

    assert response.status_code == 413
    assert response.json()["code"] == "event_too_big"
    assert inbox.events() == []
    assert inbox.requests[0].status == 413


def test_decompressed_body_over_the_limit_is_413(inbox: InboxServer) -> None:
    payload = json.dumps([make_event(token=TOKEN, properties={"x": "a" * (3 * 1024 * 1024)})])
    raw = gzip.compress(payload.encode())

    response = requests.post(inbox.url + "/e/?compression=gzip-js", data=raw, timeout=10)
    on_batch = requests.post(inbox.url + "/batch/", data=raw, timeout=10)

    assert response.status_code == 413
    # The same body fits the 20 MiB /batch limit.
    assert on_batch.status_code == 200


def test_huge_declared_length_is_413_without_reading_it(inbox: InboxServer) -> None:
    head = b"POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"

    answer = raw_http(inbox.port, head)

    assert answer.startswith(b"HTTP/1.1 413")


def test_chunked_body_over_the_limit_is_413(inbox: InboxServer) -> None:
    head = b"POST /e/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n300000\r\n"

    assert raw_http(inbox.port, head).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        b"POST /api/faults HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /e/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /e/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nabc",
        "POST /e/ HTTP/1.1\r\nHost: x\r\nContent-Length: \u00b2\r\n\r\n".encode("latin-1"),
    ],
    ids=[
        "non-numeric length",
        "negative length",
        "bad chunk size",
        "negative chunk size",
        "superscript length",
    ],
)
def test_bad_body_framing_is_400(inbox: InboxServer, request_bytes: bytes) -> None:
    assert raw_http(inbox.port, request_bytes).startswith(b"HTTP/1.1 400")


def test_client_disconnecting_mid_body_does_not_hurt_the_server(inbox: InboxServer) -> None:
    head = b'POST /batch/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"api_key"'
    chunked = b"POST /e/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10"

    assert raw_http(inbox.port, head) == b""
    assert raw_http(inbox.port, chunked) == b""
    assert raw_http(inbox.port, b"GET /api/faults HTTP/1.1\r\nContent-Length: 9\r\n\r\n") == b""

    assert [(r.status, r.error) for r in inbox.requests] == [(0, "incomplete")] * 2
    assert requests.get(inbox.url + "/api/health", timeout=5).json() == {"ok": True}


def test_huge_headers_and_garbage_request_lines_are_refused(inbox: InboxServer) -> None:
    huge = b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150)) + b"\r\n"

    assert raw_http(inbox.port, huge).startswith(b"HTTP/1.1 431")
    assert raw_http(inbox.port, many).startswith(b"HTTP/1.1 431")
    # http.server answers an unparseable request line HTTP/0.9 style: no status line.
    assert b"400" in raw_http(inbox.port, b"\x16\x03\x01 garbage\r\n\r\n")
    assert raw_http(inbox.port, b"BREW / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 501")
    assert requests.get(inbox.url + "/api/health", timeout=5).ok


def test_unsupported_method_on_a_capture_path_is_405(inbox: InboxServer) -> None:
    response = requests.put(inbox.url + "/batch/", json=batch(make_event()), timeout=5)

    assert response.status_code == 405
    assert inbox.requests[0].status == 405


def test_unexpected_errors_become_500_and_the_server_keeps_serving(
    inbox: InboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(events: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(inbox._store, "add", broken)

    response = requests.post(inbox.url + "/batch/", json=batch(make_event()), timeout=5)

    assert response.status_code == 500
    assert requests.get(inbox.url + "/api/health", timeout=5).ok


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["event", "distinct_id", "batch", "api_key", "properties", "uuid"]
                    )
                    | st.text(max_size=5),
                    children,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    ),
    path=st.sampled_from(["/batch", "/e", "/engage"]),
)
def test_validation_never_crashes_on_arbitrary_input(body: bytes, path: str) -> None:
    result = validate_capture(path, body, query={}, headers={})

    assert isinstance(result, (Accepted, Refusal))
    if isinstance(result, Refusal):
        assert result.status in (400, 401, 403, 413)
    else:
        for event in result.events:
            assert isinstance(event["distinct_id"], str)
            assert 0 < len(event["distinct_id"]) <= 200
            json.dumps(event)
