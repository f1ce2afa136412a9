"""capture() in background mode leaves the timestamp and the UUIDv7 to the sender thread."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
import uuid as uuid_module
from collections.abc import Iterator

import pytest

from posthog_web import Client
from posthog_web.events import (
    LIB_VERSION,
    MAX_EVENT_BYTES,
    complete_event,
    complete_events,
    completion_bytes,
    is_uuid7,
    iso_at,
    uuid7_time_ms,
)
from posthog_web.inbox import InboxServer


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    client = Client("phc_test", host=inbox.url, flush_interval=0.05, timeout=5.0)
    client._sender.options.retry_base_delay = 0.01
    yield client
    client.shutdown(timeout=1)


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def test_timestamp_and_uuid_come_from_the_time_of_the_call(
    client: Client, inbox: InboxServer
) -> None:
    before = time.time()
    client.capture("signed_up", distinct_id="u1", properties={"plan": "pro"})
    after = time.time()
    assert client.flush(timeout=10)
    [event] = inbox.events()
    stamp = _parse(event["timestamp"])
    assert stamp.utcoffset() == dt.timedelta(0)
    assert before - 0.001 <= stamp.timestamp() <= after + 0.001
    assert is_uuid7(event["uuid"])
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    assert uuid7_time_ms(event["uuid"]) == (stamp - epoch) // dt.timedelta(milliseconds=1)
    assert event["properties"]["plan"] == "pro"
    assert event["properties"]["$lib"] == "posthog-web"


def test_a_given_timestamp_is_kept_and_the_uuid_is_still_minted_now(
    client: Client, inbox: InboxServer
) -> None:
    before_ms = time.time_ns() // 1_000_000
    client.capture("imported", distinct_id="u1", timestamp="2024-05-01T10:00:00Z")
    client.identify(distinct_id="u1", properties={"email": "a@example.com"})
    client.alias(distinct_id="u1", alias="legacy-1")
    assert client.flush(timeout=10)
    events = {e["event"]: e for e in inbox.events()}
    assert _parse(events["imported"]["timestamp"]) == dt.datetime(
        2024, 5, 1, 10, tzinfo=dt.timezone.utc
    )
    assert uuid7_time_ms(events["imported"]["uuid"]) >= before_ms
    assert events["$identify"]["$set"] == {"email": "a@example.com"}
    assert len({e["uuid"] for e in events.values()}) == 3


def test_an_explicit_uuid_is_sent_as_given(client: Client, inbox: InboxServer) -> None:
    uuid = "01890a5d-ac96-774b-bcce-b302099a8057"
    client.capture("given", distinct_id="u1", uuid=uuid)
    assert client.flush(timeout=10)
    assert [e["uuid"] for e in inbox.events()] == [uuid]


def test_retries_resend_the_uuid_minted_once(client: Client, inbox: InboxServer) -> None:
    inbox.faults.fail_next(2, status=503)
    for i in range(3):
        client.capture(f"e{i}", distinct_id="u1")
    assert client.flush(timeout=20)
    bodies = [gzip.decompress(r.body) for r in inbox.requests]
    assert len(bodies) == 3
    batches = [body.split(b'"batch":', 1)[1] for body in bodies]
    assert batches[0] == batches[1] == batches[2]
    assert len({e["uuid"] for e in inbox.events()}) == 3


def test_mutating_properties_after_capture_changes_nothing(
    client: Client, inbox: InboxServer
) -> None:
    items: list[dict[str, object]] = [{"sku": "a", "price": 1.5}]
    cart: dict[str, object] = {"items": items, "total": 1.5}
    client.capture("checkout", distinct_id="u1", properties=cart)
    cart["total"] = object()
    items.append({"sku": object()})
    del items[0]
    assert client.flush(timeout=10)
    [event] = inbox.events()
    assert event["properties"]["items"] == [{"sku": "a", "price": 1.5}]
    assert event["properties"]["total"] == 1.5
    assert client.stats()["dropped"] == 0


def test_the_900_kib_limit_counts_what_the_sender_adds(client: Client) -> None:
    # Encoded without timestamp and uuid this event is just under the limit.
    overhead = len('{"event":"big","distinct_id":"u1","properties":{"b":"","$lib":"posthog-web",')
    overhead += len(f'"$lib_version":"{LIB_VERSION}"}}}}')
    blob = "x" * (MAX_EVENT_BYTES - overhead - completion_bytes(None) // 2)
    with pytest.raises(ValueError, match=r"900 KiB"):
        client.capture("big", distinct_id="u1", properties={"b": blob})
    assert client.stats()["queued"] == 0


def test_errors_still_name_the_field(client: Client) -> None:
    with pytest.raises(TypeError, match=r"properties\['cart'\]\[0\]"):
        client.capture("bad", distinct_id="u1", properties={"cart": [object()]})
    with pytest.raises(ValueError, match="timestamp"):
        client.capture("bad", distinct_id="u1", timestamp="yesterday")
    assert client.stats()["queued"] == 0


def test_circular_properties_are_refused_at_the_call(client: Client) -> None:
    properties: dict[str, object] = {}
    properties["self"] = properties
    with pytest.raises(TypeError, match=r"properties\['self'\]"):
        client.capture("loop", distinct_id="u1", properties=properties)


def test_completed_events_carry_valid_uuid7s_and_the_call_time() -> None:
    unix_ns = 1_764_576_000_123_456_789
    partials = [(b'{"event":"e"}', unix_ns + i * 1_000_000, None) for i in range(300)]
    completed = [json.loads(event) for event in complete_events(partials)]
    assert completed[0]["timestamp"] == "2025-12-01T08:00:00.123456+00:00"
    for index, event in enumerate(completed):
        uuid = uuid_module.UUID(event["uuid"])
        assert uuid.version == 7
        assert uuid.variant == uuid_module.RFC_4122
        assert uuid7_time_ms(event["uuid"]) == unix_ns // 1_000_000 + index
        assert event["timestamp"] == iso_at(unix_ns + index * 1_000_000)
    assert len({event["uuid"] for event in completed}) == 300
    given = complete_event(b'{"event":"e"}', unix_ns, "2024-05-01T10:00:00+00:00")
    assert json.loads(given)["timestamp"] == "2024-05-01T10:00:00+00:00"


def test_a_disabled_client_validates_and_drops(inbox: InboxServer) -> None:
    client = Client("phc_test", host=inbox.url, disabled=True)
    uuid = "01890a5d-ac96-774b-bcce-b302099a8057"
    assert client.capture("e", distinct_id="u1") is None
    assert client.capture("e", distinct_id="u1", uuid=uuid) is None
    with pytest.raises(TypeError, match="properties"):
        client.capture("e", distinct_id="u1", properties={"x": object()})
    assert client.flush(timeout=1)
    assert client.stats()["queued"] == 0
    assert inbox.requests == []
