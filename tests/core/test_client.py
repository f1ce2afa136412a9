"""The five operations: validation at the call and the exact wire payload at the inbox."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from posthog_web import Client, DeliveryError
from posthog_web.client import normalize_host, url_properties, validate_api_key
from posthog_web.delivery import RecorderTransport
from posthog_web.inbox import InboxServer
from tests.core.helpers import decode_body

WHEN = "2026-08-22T10:15:02.950000+00:00"


@pytest.fixture
def sync_client(inbox: InboxServer) -> Iterator[Client]:
    client = Client("phc_test", host=inbox.url, sync_mode=True, max_retries=1)
    yield client
    client.shutdown(timeout=5)


@pytest.fixture
def recorder() -> Iterator[tuple[Client, RecorderTransport]]:
    transport = RecorderTransport()
    client = Client("phc_test", host="http://127.0.0.1:9", transport=transport)
    yield client, transport
    client.shutdown(timeout=5)


def _only_event(inbox: InboxServer) -> dict[str, Any]:
    events = inbox.events()
    assert len(events) == 1, events
    return events[0]


def _common(event: dict[str, Any]) -> None:
    assert event["properties"]["$lib"] == "posthog-web"
    assert event["properties"]["$lib_version"]
    assert event["timestamp"] == WHEN


def test_capture_payload(sync_client: Client, inbox: InboxServer) -> None:
    status = sync_client.capture(
        "checkout_completed",
        distinct_id="user_8812",
        properties={"amount": 49.0, "currency": "EUR"},
        timestamp=WHEN,
        uuid="01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01",
    )
    assert status == 200
    event = _only_event(inbox)
    _common(event)
    assert event["event"] == "checkout_completed"
    assert event["distinct_id"] == "user_8812"
    assert event["uuid"] == "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01"
    assert event["properties"]["amount"] == 49.0
    assert event["properties"]["currency"] == "EUR"
    assert "$geoip_disable" not in event["properties"]
    assert "$os" not in event["properties"]
    body = decode_body(inbox.requests[-1].body)
    assert body["api_key"] == "phc_test"
    assert body["historical_migration"] is False
    assert dt.datetime.fromisoformat(body["sent_at"]).utcoffset() == dt.timedelta(0)


def test_page_payload(sync_client: Client, inbox: InboxServer) -> None:
    sync_client.page(
        distinct_id="u1",
        name="Product",
        url="https://shop.example.com/products/42?utm_source=news",
        properties={"plan": "pro"},
        timestamp=WHEN,
    )
    event = _only_event(inbox)
    _common(event)
    assert event["event"] == "$pageview"
    props = event["properties"]
    assert props["title"] == "Product"
    assert props["$current_url"] == "https://shop.example.com/products/42?utm_source=news"
    assert props["$host"] == "shop.example.com"
    assert props["$pathname"] == "/products/42"
    assert props["plan"] == "pro"


def test_page_without_url(sync_client: Client, inbox: InboxServer) -> None:
    sync_client.page(distinct_id="u1", name="Home", timestamp=WHEN)
    props = _only_event(inbox)["properties"]
    assert props["title"] == "Home"
    assert "$current_url" not in props


def test_screen_payload(sync_client: Client, inbox: InboxServer) -> None:
    sync_client.screen(distinct_id="u1", name="ProductDetail", timestamp=WHEN)
    event = _only_event(inbox)
    _common(event)
    assert event["event"] == "$screen"
    assert event["properties"]["$screen_name"] == "ProductDetail"


def test_identify_payload(sync_client: Client, inbox: InboxServer) -> None:
    anon = "01a028e7-e040-7a11-b222-333344445555"
    sync_client.identify(
        distinct_id="user_8812",
        properties={"email": "ada@example.com", "name": "Ada"},
        properties_once={"first_login_at": dt.datetime(2026, 8, 22, 10, 17)},
        anon_distinct_id=anon,
        timestamp=WHEN,
    )
    event = _only_event(inbox)
    _common(event)
    assert event["event"] == "$identify"
    assert event["distinct_id"] == "user_8812"
    assert event["$set"] == {"email": "ada@example.com", "name": "Ada"}
    assert event["$set_once"] == {"first_login_at": "2026-08-22T10:17:00+00:00"}
    assert event["properties"]["$anon_distinct_id"] == anon
    persons = inbox.persons()
    assert [sorted(p["distinct_ids"]) for p in persons] == [sorted([anon, "user_8812"])]


def test_identify_without_anon_id_or_once(sync_client: Client, inbox: InboxServer) -> None:
    sync_client.identify(distinct_id="u1", properties={"plan": "pro"}, anon_distinct_id="u1")
    event = _only_event(inbox)
    assert event["$set"] == {"plan": "pro"}
    assert "$set_once" not in event
    assert "$anon_distinct_id" not in event["properties"]


def test_alias_payload(sync_client: Client, inbox: InboxServer) -> None:
    sync_client.alias(distinct_id="user_8812", alias="legacy-crm-77", timestamp=WHEN)
    event = _only_event(inbox)
    _common(event)
    assert event["event"] == "$create_alias"
    assert event["distinct_id"] == "user_8812"
    assert event["properties"]["distinct_id"] == "user_8812"
    assert event["properties"]["alias"] == "legacy-crm-77"


def test_sync_mode_returns_the_status_posthog_answered(
    sync_client: Client, inbox: InboxServer
) -> None:
    inbox.faults.fail_next(1, status=400)
    assert sync_client.capture("x", distinct_id="u1") == 400
    inbox.faults.fail_next(2, status=503)  # max_retries=1: two attempts
    assert sync_client.capture("x", distinct_id="u1") == 503
    assert sync_client.capture("x", distinct_id="u1") == 200


def test_sync_mode_retries_then_succeeds(inbox: InboxServer) -> None:
    client = Client("phc_test", host=inbox.url, sync_mode=True, max_retries=3)
    client._sender.options.retry_base_delay = 0.01
    inbox.faults.fail_next(2, status=500)
    assert client.capture("x", distinct_id="u1") == 200
    uuids = {e["uuid"] for e in inbox.events()}
    assert len(uuids) == 1
    client.shutdown(timeout=5)


def test_sync_mode_network_failure_raises_delivery_error(unused_port: int) -> None:
    client = Client(
        "phc_test", host=f"http://127.0.0.1:{unused_port}", sync_mode=True, max_retries=1
    )
    client._sender.options.retry_base_delay = 0.01
    with pytest.raises(DeliveryError, match="no answer from"):
        client.capture("x", distinct_id="u1")
    client.shutdown(timeout=5)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda c: c.capture("", distinct_id="u"), ValueError, "event must not be empty"),
        (lambda c: c.capture(1, distinct_id="u"), TypeError, "event must be a str"),
        (lambda c: c.capture("e", distinct_id=""), ValueError, "distinct_id"),
        (lambda c: c.capture("e", distinct_id="u" * 201), ValueError, "distinct_id"),
        (lambda c: c.capture("e", distinct_id="anonymous"), ValueError, "illegal"),
        (lambda c: c.capture("e", distinct_id=7), TypeError, "distinct_id must be a str"),
        (lambda c: c.capture("e", distinct_id="u", properties=[1]), TypeError, "mapping"),
        (lambda c: c.capture("e", distinct_id="u", properties={1: 2}), TypeError, "keys"),
        (
            lambda c: c.capture("e", distinct_id="u", properties={"a": {"b": object()}}),
            TypeError,
            r"properties\['a'\]\['b'\]",
        ),
        (lambda c: c.capture("e", distinct_id="u", timestamp="soon"), ValueError, "timestamp"),
        (lambda c: c.capture("e", distinct_id="u", uuid="x"), ValueError, "uuid"),
        (
            lambda c: c.capture("e", distinct_id="u", properties={"a": "x" * 950_000}),
            ValueError,
            "900 KiB",
        ),
        (lambda c: c.page(distinct_id="u", name=""), ValueError, "name"),
        (lambda c: c.page(distinct_id="u", name="n", url="/relative"), ValueError, "url"),
        (lambda c: c.page(distinct_id="u", name="n", url=3), TypeError, "url"),
        (lambda c: c.screen(distinct_id="u", name=None), TypeError, "name"),
        (
            lambda c: c.identify(distinct_id="u", properties_once={"a": {1, object()}}),
            TypeError,
            "properties_once",
        ),
        (
            lambda c: c.identify(distinct_id="u", properties={"a": float("inf")}),
            TypeError,
            r"properties\['a'\]",
        ),
        (lambda c: c.identify(distinct_id="u", anon_distinct_id="null"), ValueError, "anon"),
        (lambda c: c.alias(distinct_id="u", alias="u"), ValueError, "alias must differ"),
        (lambda c: c.alias(distinct_id="u", alias="0"), ValueError, "alias"),
    ],
)
def test_bad_input_is_refused_before_any_io(
    recorder: tuple[Client, RecorderTransport], call: Any, exc: type[Exception], message: str
) -> None:
    client, transport = recorder
    with pytest.raises(exc, match=message):
        call(client)
    assert client.flush(timeout=5)
    assert transport.requests == []
    assert client.stats()["queued"] == 0


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("phx_personal", "personal API key"),
        ("p" * 65, "64"),
        ("phc_ünï", "ASCII"),
        ("phc_\x00", "64 ASCII"),
    ],
)
def test_bad_api_keys_are_refused_at_construction(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        Client(key)
    assert "project API key" in str(info.value)
    if len(key) > 4:
        assert key not in str(info.value)


def test_api_key_type_and_strip() -> None:
    with pytest.raises(TypeError, match="api_key must be a str"):
        Client(None)  # type: ignore[arg-type]
    assert validate_api_key("  phc_abc \n") == "phc_abc"


def test_repr_and_logs_never_show_the_key(
    inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="posthog_web")
    client = Client("phc_secret_value", host=inbox.url, max_retries=0)
    assert "phc_secret_value" not in repr(client)
    assert "phc_secret_value" not in repr(client._sender.options)
    inbox.faults.fail_next(1, status=401)
    client.capture("x", distinct_id="u1")
    assert not client.flush(timeout=10)
    assert "401" in caplog.text
    assert "phc_secret_value" not in caplog.text
    client.shutdown(timeout=5)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("https://app.posthog.com", "https://us.i.posthog.com"),
        ("https://us.posthog.com/", "https://us.i.posthog.com"),
        ("https://eu.posthog.com", "https://eu.i.posthog.com"),
        ("https://eu.i.posthog.com/", "https://eu.i.posthog.com"),
        ("https://ph.example.com/ingest/", "https://ph.example.com/ingest"),
        ("http://127.0.0.1:8010", "http://127.0.0.1:8010"),
        ("http://localhost:8010/", "http://localhost:8010"),
        ("http://[::1]:8010", "http://[::1]:8010"),
    ],
)
def test_host_normalization(host: str, expected: str) -> None:
    assert normalize_host(host) == expected


def test_host_refusals() -> None:
    with pytest.raises(ValueError, match="uses http"):
        normalize_host("http://ph.example.com")
    assert normalize_host("http://ph.example.com", allow_insecure_http=True)
    with pytest.raises(ValueError, match="must be an http"):
        normalize_host("ph.example.com")
    with pytest.raises(TypeError, match="host must be a str"):
        normalize_host(None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flush_at": 0}, "flush_at"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"max_queue_size": True}, "max_queue_size"),
        ({"timeout": -1}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"exit_flush_timeout": "1"}, "exit_flush_timeout"),
    ],
)
def test_option_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Client("phc_x", **kwargs)


def test_disabled_accepts_validates_and_drops(recorder: tuple[Client, RecorderTransport]) -> None:
    transport = RecorderTransport()
    client = Client("phc_x", disabled=True, transport=transport)
    assert client.capture("e", distinct_id="u1") is None
    assert client.enqueue({"event": "e"}) is None
    with pytest.raises(ValueError, match="distinct_id"):
        client.capture("e", distinct_id="")
    assert client.flush(timeout=1)
    assert transport.requests == []
    assert "disabled" in repr(client)


def test_background_mode_returns_none_and_enqueue_fast_path(
    recorder: tuple[Client, RecorderTransport],
) -> None:
    client, transport = recorder
    assert client.capture("e", distinct_id="u1") is None
    assert client.enqueue({"event": "raw", "distinct_id": "u2", "properties": {}}) is None
    assert client.flush(timeout=5)
    assert [e["event"] for e in transport.events] == ["e", "raw"]


def test_enqueue_in_sync_mode_returns_status(inbox: InboxServer) -> None:
    from posthog_web.events import new_event

    client = Client("phc_test", host=inbox.url, sync_mode=True)
    assert client.enqueue(new_event("$pageview", "u1", {"$pathname": "/"})) == 200
    assert _only_event(inbox)["properties"]["$pathname"] == "/"
    client.shutdown(timeout=5)


def test_url_properties() -> None:
    assert url_properties("http://a.b:8000") == {
        "$current_url": "http://a.b:8000",
        "$host": "a.b:8000",
        "$pathname": "/",
    }


def test_recorder_transport_decodes_gzip() -> None:
    transport = RecorderTransport()
    body = gzip.compress(json.dumps({"batch": [{"event": "e"}]}).encode())
    transport.send("http://x/batch/", body, {"Content-Encoding": "gzip"}, 1.0)
    assert transport.events == [{"event": "e"}]
