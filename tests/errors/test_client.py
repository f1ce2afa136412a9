"""Client.capture_exception: the event at a real inbox, personless events, validation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web import Client
from posthog_web import events as ev
from posthog_web.errors import ExceptionOptions
from posthog_web.inbox import InboxServer


@pytest.fixture
def client(inbox: InboxServer) -> Iterator[Client]:
    client = Client("phc_test", host=inbox.url, sync_mode=True, timeout=5.0)
    yield client
    client.shutdown(timeout=2)


def place_order(order: dict[str, Any]) -> None:
    try:
        int(order["amount"])
    except ValueError as exc:
        raise RuntimeError("order failed") from exc


def test_capture_exception_reaches_the_inbox_as_error_tracking_expects(
    client: Client, inbox: InboxServer
) -> None:
    try:
        place_order({"amount": "x"})
    except RuntimeError as exc:
        status = client.capture_exception(
            exc, distinct_id="user-42", properties={"$session_id": "s-1", "plan": "pro"}
        )
    assert status == 200
    [event] = inbox.wait_for_events(1, event="$exception")
    props = event["properties"]
    assert event["distinct_id"] == "user-42"
    assert "$cymbal_errors" not in props
    assert props["$exception_types"] == ["RuntimeError", "ValueError"]
    assert props["$exception_handled"] is True
    assert props["$exception_level"] == "error"
    assert props["$session_id"] == "s-1"
    assert props["plan"] == "pro"
    assert props["$lib"] == "posthog-web"
    assert "place_order" in props["$exception_functions"]
    assert ev.PROP_PROCESS_PERSON_PROFILE not in props


def test_the_exception_being_handled_is_the_default(client: Client, inbox: InboxServer) -> None:
    try:
        {}["nope"]
    except KeyError:
        client.capture_exception(distinct_id="user-1", handled=False)
    [event] = inbox.wait_for_events(1, event="$exception")
    entry = event["properties"]["$exception_list"][0]
    assert entry["type"] == "KeyError"
    assert entry["mechanism"]["handled"] is False
    assert event["properties"]["$exception_handled"] is False


def test_without_a_distinct_id_the_event_is_personless(client: Client, inbox: InboxServer) -> None:
    client.capture_exception(ValueError("never raised"))
    client.capture_exception(KeyError("never raised either"))
    first, second = inbox.wait_for_events(2, event="$exception")
    assert first["properties"]["$process_person_profile"] is False
    assert ev.is_uuid(first["distinct_id"])
    assert first["distinct_id"] != second["distinct_id"]
    assert first["properties"]["$exception_list"][0]["mechanism"]["synthetic"] is True


def test_a_manual_fingerprint_and_timestamp_are_kept(client: Client, inbox: InboxServer) -> None:
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    client.capture_exception(
        ValueError("x"),
        distinct_id="u",
        properties={"$exception_fingerprint": "checkout-amount"},
        timestamp=when,
    )
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["properties"]["$exception_fingerprint"] == "checkout-amount"
    assert event["timestamp"] == when.isoformat()


def test_background_mode_delivers_on_flush(inbox: InboxServer) -> None:
    client = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        assert client.capture_exception(ValueError("bg"), distinct_id="u") is None
        assert client.flush(timeout=5)
    finally:
        client.shutdown(timeout=2)
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["properties"]["$exception_values"] == ["bg"]


def test_the_flood_limit_applies_and_returns_none(inbox: InboxServer) -> None:
    client = Client(
        "phc_test",
        host=inbox.url,
        sync_mode=True,
        exception_options=ExceptionOptions(flood_limit=2),
    )
    statuses = []
    for _ in range(5):
        try:
            raise ValueError("same every time")
        except ValueError as exc:
            statuses.append(client.capture_exception(exc, distinct_id="u"))
    assert statuses == [200, 200, None, None, None]


def test_a_second_capture_of_one_exception_sends_nothing(client: Client) -> None:
    exc = ValueError("once")
    assert client.capture_exception(exc, distinct_id="u") == 200
    assert client.capture_exception(exc, distinct_id="u") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"exc": "boom"}, TypeError, "exc must be an exception"),
        ({"exc": ValueError, "distinct_id": "u"}, TypeError, "exc must be an exception"),
        ({"exc": ValueError(), "distinct_id": 42}, TypeError, "distinct_id"),
        ({"exc": ValueError(), "distinct_id": "null"}, ValueError, "distinct_id"),
        ({"exc": ValueError(), "properties": [1]}, TypeError, "properties"),
        ({"exc": ValueError(), "timestamp": "yesterday"}, ValueError, "timestamp"),
        ({"exc": ValueError(), "handled": "yes"}, TypeError, "handled"),
        ({"exc": ValueError(), "properties": {"o": object()}}, TypeError, r"properties\['o'\]"),
        ({"exc": ValueError(), "properties": {"big": "x" * 2**20}}, ValueError, "properties"),
    ],
)
def test_bad_arguments_name_the_field(
    client: Client, inbox: InboxServer, kwargs: dict[str, Any], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        client.capture_exception(**kwargs)
    assert inbox.requests == []


def test_no_exception_being_handled_is_an_error(client: Client) -> None:
    with pytest.raises(ValueError, match="exc is None and no exception is being handled"):
        client.capture_exception()


def test_exception_options_must_be_exception_options() -> None:
    with pytest.raises(TypeError, match="exception_options"):
        Client("phc_test", disabled=True, exception_options={"in_app": ["x"]})  # type: ignore[arg-type]
