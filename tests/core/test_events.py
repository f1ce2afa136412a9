from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import time
import uuid

import pytest

from posthog_web import events as ev


def test_uuid7_has_version_7_variant_and_current_time() -> None:
    before = time.time_ns() // 1_000_000
    value = ev.uuid7()
    after = time.time_ns() // 1_000_000
    parsed = uuid.UUID(value)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert ev.is_uuid7(value)
    assert before <= ev.uuid7_time_ms(value) <= after


def test_uuid7_at_encodes_the_given_time_and_values_are_unique() -> None:
    values = {ev.uuid7_at(1_700_000_000_123) for _ in range(1000)}
    assert len(values) == 1000
    assert {ev.uuid7_time_ms(v) for v in values} == {1_700_000_000_123}


def test_is_uuid_and_is_uuid7() -> None:
    assert ev.is_uuid(str(uuid.uuid4()))
    assert not ev.is_uuid7(str(uuid.uuid4()))
    assert not ev.is_uuid("not-a-uuid")
    assert ev.is_uuid(str(uuid.uuid4()).upper())


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "anonymous",
        "ANONYMOUS",
        "guest",
        "distinct_id",
        "DistinctId",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "False",
        "[object Object]",
        "NaN",
        "None",
        "none",
        "null",
        "0",
        "'null'",
        '"anonymous"',
        " null ",
        "$posthog_cookieless",
    ],
)
def test_illegal_distinct_ids(value: str) -> None:
    assert ev.is_illegal_distinct_id(value)
    with pytest.raises(ValueError, match="distinct_id"):
        ev.validate_distinct_id(value)


@pytest.mark.parametrize("value", ["NULL", "nan", "user_1", "42", "0x", "'", "a@b.c"])
def test_legal_distinct_ids(value: str) -> None:
    assert not ev.is_illegal_distinct_id(value)
    assert ev.validate_distinct_id(value) == value


def test_distinct_id_type_length_and_nul() -> None:
    with pytest.raises(TypeError, match="distinct_id must be a str, not int"):
        ev.validate_distinct_id(42)
    with pytest.raises(ValueError, match="201 characters"):
        ev.validate_distinct_id("x" * 201)
    assert ev.validate_distinct_id("x" * 200)
    with pytest.raises(ValueError, match="NUL"):
        ev.validate_distinct_id("a\x00b")
    with pytest.raises(ValueError, match="alias"):
        ev.validate_distinct_id("null", "alias")


def test_event_name_validation() -> None:
    assert ev.validate_event_name("signed_up") == "signed_up"
    with pytest.raises(ValueError, match="event must not be empty"):
        ev.validate_event_name("  ")
    with pytest.raises(TypeError, match="event must be a str"):
        ev.validate_event_name(None)


def test_format_timestamp_forms() -> None:
    aware = dt.datetime(2026, 8, 22, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert ev.format_timestamp(aware) == "2026-08-22T12:00:00+02:00"
    naive = dt.datetime(2026, 8, 22, 12, 0, 5, 123000)
    assert ev.format_timestamp(naive) == "2026-08-22T12:00:05.123000+00:00"
    assert ev.format_timestamp("2026-08-22T10:15:02Z") == "2026-08-22T10:15:02+00:00"
    assert ev.format_timestamp("2026-08-22T10:15:02") == "2026-08-22T10:15:02+00:00"
    assert ev.format_timestamp("2026-08-22 10:15:02+03:00") == "2026-08-22T10:15:02+03:00"
    now = dt.datetime.fromisoformat(ev.format_timestamp(None))
    assert now.utcoffset() == dt.timedelta(0)
    assert abs((dt.datetime.now(dt.timezone.utc) - now).total_seconds()) < 60


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00", "2026-08-22", ""])
def test_format_timestamp_refuses_non_iso_strings(value: str) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        ev.format_timestamp(value)


def test_format_timestamp_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="timestamp must be a datetime"):
        ev.format_timestamp(1_700_000_000)
    with pytest.raises(TypeError, match="when must be"):
        ev.format_timestamp(dt.date(2026, 1, 1), "when")


def test_encode_json_converts_common_python_types() -> None:
    value = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5),
        "day": dt.date(2026, 1, 2),
        "int_decimal": decimal.Decimal("3"),
        "decimal": decimal.Decimal("2.5"),
        "id": uuid.UUID(int=1),
        "tags": {"b", "a"},
        "pair": (1, 2),
        "text": "ünï",
    }
    assert json.loads(ev.encode_json(value)) == {
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "int_decimal": 3,
        "decimal": 2.5,
        "id": "00000000-0000-0000-0000-000000000001",
        "tags": ["a", "b"],
        "pair": [1, 2],
        "text": "ünï",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": float("nan")}, r"properties\['a'\]: nan is not a finite number"),
        ({"a": [1, {"b": object()}]}, r"properties\['a'\]\[1\]\['b'\]: a value of type object"),
        ({"a": decimal.Decimal("Infinity")}, r"properties\['a'\]: a non-finite Decimal"),
        ({"a": {(1, 2): 1}}, r"properties\['a'\]: key \(1, 2\) \(tuple\) is not a str"),
        ({"a": {1, object()}}, r"properties\['a'\]"),
    ],
)
def test_json_errors_name_the_key_path(value: object, message: str) -> None:
    with pytest.raises((TypeError, ValueError)):
        ev.encode_json(value)
    assert re.search(message, ev.describe_json_error(value, "properties"))


def test_check_properties() -> None:
    assert ev.check_properties(None) == {}
    original = {"a": 1}
    copied = ev.check_properties(original)
    assert copied == original
    assert copied is not original
    with pytest.raises(TypeError, match="properties must be a mapping, not list"):
        ev.check_properties([("a", 1)])
    with pytest.raises(TypeError, match="properties keys must be str; got 1"):
        ev.check_properties({1: "a"})


def test_validate_uuid() -> None:
    value = uuid.uuid4()
    assert ev.validate_uuid(value) == str(value)
    assert ev.validate_uuid(str(value).upper()) == str(value)
    with pytest.raises(ValueError, match="uuid='nope' is not a UUID"):
        ev.validate_uuid("nope")
    with pytest.raises(TypeError, match=r"uuid must be a str or uuid\.UUID"):
        ev.validate_uuid(12)


def test_new_event_sets_lib_and_defaults() -> None:
    props: dict[str, object] = {"a": 1}
    event = ev.new_event("x", "u1", props)
    assert event["properties"] is props
    assert props["$lib"] == "posthog-web"
    assert props["$lib_version"] == ev.LIB_VERSION
    assert ev.is_uuid7(event["uuid"])
    assert dt.datetime.fromisoformat(event["timestamp"]).utcoffset() == dt.timedelta(0)
