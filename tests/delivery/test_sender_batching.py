"""The sender encodes queued dicts a run at a time: what PostHog receives is unchanged."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.events import encode_json, new_event
from posthog_web.inbox import InboxServer
from tests.core.helpers import MakeClient, decode_body


@pytest.fixture
def make_client(make_client: MakeClient) -> MakeClient:
    # Batches here go only when a test flushes.
    return functools.partial(make_client, flush_interval=60, flush_at=1000)


def _page_views(count: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        new_event("$pageview", f"visitor-{i}", {"$current_url": f"https://x.test/{i}", **extra})
        for i in range(count)
    ]


def _raw_batches(inbox: InboxServer) -> list[bytes]:
    return [gzip.decompress(r.body) for r in inbox.requests]


def test_a_run_of_dicts_arrives_as_encoding_each_would_give(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    events = _page_views(250, nested={"list": [1, 2.5, None], "when": "now"})
    for event in events:
        client.enqueue(event)
    assert client.flush(timeout=10)
    [raw] = _raw_batches(inbox)
    expected = b'"batch":[' + b",".join(encode_json(event) for event in events) + b"]}"
    assert raw.endswith(expected)
    assert client.stats()["sent"] == 250


def test_dicts_and_captured_events_keep_their_order(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    [first, second, third] = _page_views(3)
    client.enqueue(first)
    client.capture("between", distinct_id="u1")
    client.enqueue(second)
    client.enqueue(third)
    assert client.flush(timeout=10)
    names = [e["distinct_id"] if e["event"] == "$pageview" else e["event"] for e in inbox.events()]
    assert names == ["visitor-0", "between", "visitor-1", "visitor-2"]


def test_one_bad_dict_in_a_run_drops_only_itself(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    events = _page_views(5)
    events[2]["properties"]["bad"] = object()
    for event in events:
        client.enqueue(event)
    assert client.flush(timeout=10)
    assert [e["distinct_id"] for e in inbox.events()] == [
        "visitor-0",
        "visitor-1",
        "visitor-3",
        "visitor-4",
    ]
    assert client.stats()["dropped_unencodable"] == 1
    assert "could not encode" in caplog.text


def test_a_run_over_900_kib_is_checked_event_by_event(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(gzip=False)
    events = _page_views(3, blob="x" * 400_000)
    events.append(new_event("$pageview", "too-big", {"blob": "y" * 1_000_000}))
    for event in events:
        client.enqueue(event)
    assert client.flush(timeout=20)
    assert [e["distinct_id"] for e in inbox.events()] == ["visitor-0", "visitor-1", "visitor-2"]
    stats = client.stats()
    assert stats["dropped_oversized"] == 1
    assert stats["sent"] == 3


def test_dict_batches_stay_under_five_mib_and_flush_waits_for_the_rest(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(gzip=False)
    # Runs of up to 100 dicts: these make runs of about 810 KB each.
    events = _page_views(800, blob="x" * 8_000)
    for event in events:
        client.enqueue(event)
    assert client.flush(timeout=30)
    assert len(inbox.events()) == 800
    assert len(inbox.requests) >= 2
    assert all(len(r.body) < 5 * 1024 * 1024 for r in inbox.requests)
    assert client.stats()["queued"] == 800


def test_413_splits_a_run_into_the_same_event_bytes(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    events = _page_views(4)
    inbox.faults.fail_next(1, status=413)
    for event in events[:3]:
        client.enqueue(event)
    client.capture("captured", distinct_id="u1")
    client.enqueue(events[3])
    assert client.flush(timeout=10)
    raws = _raw_batches(inbox)
    assert [len(decode_body(r.body)["batch"]) for r in inbox.requests] == [5, 2, 3]
    whole = raws[0].split(b'"batch":[', 1)[1]
    halves = b",".join(raw.split(b'"batch":[', 1)[1][:-2] for raw in raws[1:]) + b"]}"
    assert halves == whole
    sent = [e for e in inbox.events() if e["event"] == "$pageview"]
    assert sorted(e["uuid"] for e in sent) == sorted(e["uuid"] for e in events)


def test_spooled_dicts_are_resent_identical(unused_port: int, tmp_path: Path) -> None:
    host = f"http://127.0.0.1:{unused_port}"
    options: dict[str, Any] = {"spool_dir": tmp_path, "timeout": 1.0, "flush_interval": 0.05}
    down = Client("phc_test", host=host, flush_at=1000, max_retries=0, **options)
    events = _page_views(150)
    for event in events:
        down.enqueue(event)
    assert not down.flush(timeout=10)
    down.shutdown(timeout=2)
    assert down.stats()["spooled"] == 150
    with InboxServer(host="127.0.0.1", port=unused_port) as inbox:
        later = Client("phc_test", host=host, **options)
        try:
            later.capture("started", distinct_id="u1")
            assert later.flush(timeout=10)
            inbox.wait_for_events(151, timeout=10)
        finally:
            later.shutdown(timeout=2)
        raw = b"".join(gzip.decompress(r.body) for r in inbox.requests)
    assert all(encode_json(event) in raw for event in events)
    assert later.stats()["resent"] == 150
