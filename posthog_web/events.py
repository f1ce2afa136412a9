"""PostHog event and property names, identifiers, timestamps and JSON encoding.

Everything here is pure and framework-free; the wire facts come from
docs/posthog-ingestion.md (sections 2 to 4).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import time
import uuid as uuid_module
from collections.abc import Mapping, Sequence
from typing import Any

from posthog_web._version import __version__

LIB_NAME = "posthog-web"
LIB_VERSION = __version__

EVENT_PAGEVIEW = "$pageview"
EVENT_BOT_PAGEVIEW = "$bot_pageview"
EVENT_SCREEN = "$screen"
EVENT_IDENTIFY = "$identify"
EVENT_CREATE_ALIAS = "$create_alias"
EVENT_EXCEPTION = "$exception"
EVENT_GROUP_IDENTIFY = "$groupidentify"
EVENT_SET = "$set"
EVENT_SET_ONCE = "$set_once"

PROP_LIB = "$lib"
PROP_LIB_VERSION = "$lib_version"
PROP_CURRENT_URL = "$current_url"
PROP_HOST = "$host"
PROP_PATHNAME = "$pathname"
PROP_SCREEN_NAME = "$screen_name"
PROP_ANON_DISTINCT_ID = "$anon_distinct_id"
PROP_SESSION_ID = "$session_id"
PROP_WINDOW_ID = "$window_id"
PROP_PAGEVIEW_ID = "$pageview_id"
PROP_BROWSER_TYPE = "$browser_type"
PROP_PROCESS_PERSON_PROFILE = "$process_person_profile"
PROP_IP = "$ip"
PROP_SET = "$set"
PROP_SET_ONCE = "$set_once"
PROP_GROUPS = "$groups"
PROP_GROUP_TYPE = "$group_type"
PROP_GROUP_KEY = "$group_key"
PROP_GROUP_SET = "$group_set"
PROP_EXCEPTION_LIST = "$exception_list"
PROP_EXCEPTION_LEVEL = "$exception_level"
PROP_EXCEPTION_SOURCE = "$exception_source"
PROP_EXCEPTION_FINGERPRINT = "$exception_fingerprint"
#: posthog-web's own: how many events of this fingerprint the flood limit held back.
PROP_EXCEPTION_SUPPRESSED = "$exception_suppressed_count"
EXCEPTION_LEVELS = ("fatal", "error", "warning", "log", "info", "debug")

#: PostHog accepts at most 200 characters on v0 capture (it truncates silently).
MAX_DISTINCT_ID_LENGTH = 200
#: posthog-python's client-side cap for one encoded event.
MAX_EVENT_BYTES = 900 * 1024

_ILLEGAL_IDS_CASE_INSENSITIVE = frozenset(
    {
        "anonymous",
        "guest",
        "distinctid",
        "distinct_id",
        "id",
        "not_authenticated",
        "email",
        "undefined",
        "true",
        "false",
    }
)
_ILLEGAL_IDS_CASE_SENSITIVE = frozenset(
    {"[object Object]", "NaN", "None", "none", "null", "0", "undefined"}
)
COOKIELESS_SENTINEL = "$posthog_cookieless"


def _listed(value: str) -> bool:
    return value in _ILLEGAL_IDS_CASE_SENSITIVE or value.lower() in _ILLEGAL_IDS_CASE_INSENSITIVE


def is_unmergeable_distinct_id(value: str) -> bool:
    """PostHog ingestion's own rule: ids it refuses to merge persons on.

    ``isDistinctIdIllegal`` (empty, blank, ``null``, ``0``, ... and their single- and
    double-quoted forms) plus the newest merge path's NUL and 400-character limits.
    """
    stripped = value.strip()
    if not stripped or "\x00" in value or len(value) > 400:
        return True
    if _listed(stripped):
        return True
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return _listed(stripped[1:-1])
    return False


def is_illegal_distinct_id(value: str) -> bool:
    """Return True for ids never to send: PostHog's unmergeable ids and posthog-js's
    cookieless sentinel (``$posthog_cookieless``), which is a placeholder, not a person."""
    return is_unmergeable_distinct_id(value) or value.strip() == COOKIELESS_SENTINEL


def validate_distinct_id(value: object, field: str = "distinct_id") -> str:
    """Return ``value`` if it is a distinct id PostHog accepts and can merge, else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if len(value) > MAX_DISTINCT_ID_LENGTH:
        raise ValueError(
            f"{field} is {len(value)} characters long; PostHog allows at most "
            f"{MAX_DISTINCT_ID_LENGTH}"
        )
    if "\x00" in value:
        raise ValueError(f"{field} must not contain NUL characters")
    if is_illegal_distinct_id(value):
        raise ValueError(
            f"{field}={value!r} is empty or one of the ids PostHog treats as illegal "
            "(such as 'anonymous', 'null', 'None' or '0'); use a stable user id"
        )
    return value


def validate_event_name(value: object, field: str = "event") -> str:
    """Return ``value`` if it is a non-empty event name, else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    return value


def uuid7() -> str:
    """Return a new UUIDv7 (RFC 9562) as a string: 48-bit ms timestamp, then random bits."""
    return uuid7_at(time.time_ns() // 1_000_000)


def uuid7_at(unix_ms: int) -> str:
    """Return a UUIDv7 whose time part is ``unix_ms`` (used for session ids)."""
    # 20 random hex digits, of which 74 bits are used (see _uuid7_with).
    return _uuid7_with(unix_ms, os.urandom(10).hex())


# The RFC 9562 variant (binary 10xx) of the first hex digit of the fourth group.
_VARIANT = "89ab"


_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_uuid(value: str) -> bool:
    """Return True if ``value`` is a hyphenated UUID string."""
    return _UUID_RE.fullmatch(value) is not None


def is_uuid7(value: str) -> bool:
    """Return True if ``value`` is a hyphenated UUID whose version nibble is 7."""
    return is_uuid(value) and value[14] == "7"


def uuid7_time_ms(value: str) -> int:
    """Return the Unix-milliseconds time part of a UUIDv7 string."""
    return int(value[:8] + value[9:13], 16)


def validate_uuid(value: object, field: str = "uuid") -> str:
    """Return ``value`` as a canonical lower-case UUID string, else raise."""
    if isinstance(value, uuid_module.UUID):
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str or uuid.UUID, not {type(value).__name__}")
    try:
        return str(uuid_module.UUID(value))
    except ValueError:
        raise ValueError(f"{field}={value!r} is not a UUID") from None


_second: tuple[int, str] = (-1, "")


def now_iso() -> str:
    """Return the current time as ISO 8601 with microseconds and an explicit UTC offset."""
    global _second
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    cached = _second
    if cached[0] != seconds:
        # Formatting the date and time once a second saves most of the cost per event.
        stamp = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cached = _second = (seconds, stamp)
    return f"{cached[1]}.{nanos // 1000:06d}+00:00"


def format_timestamp(value: object, field: str = "timestamp") -> str:
    """Return ``value`` as an ISO 8601 string with an explicit offset.

    Accepts None (now), an aware datetime, a naive datetime (taken as UTC) or an
    ISO 8601 string; a string without an offset is taken as UTC.
    """
    if value is None:
        return now_iso()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"{field}={value!r} is not an ISO 8601 timestamp") from None
        if "T" not in text.upper() and " " not in text:
            raise ValueError(f"{field}={value!r} is a date, not an ISO 8601 timestamp")
        return format_timestamp(parsed, field)
    raise TypeError(f"{field} must be a datetime or an ISO 8601 str, not {type(value).__name__}")


def _json_default(value: object) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError("a non-finite Decimal cannot become JSON")
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, uuid_module.UUID):
        return str(value)
    if isinstance(value, (set, frozenset)):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    raise TypeError(f"a value of type {type(value).__name__} cannot become JSON")


_encoder = json.JSONEncoder(
    default=_json_default, allow_nan=False, ensure_ascii=False, separators=(",", ":")
)
# JSONEncoder.encode() builds a new C encoder on every call (about 0.7 µs of a 1 KB
# event); this one is built once. No circular-reference markers: a markers dict shared
# by threads reports false cycles when two threads encode one nested object at once
# (`default` is Python code, so another thread can run mid-encoding); a cycle ends in
# RecursionError instead.
_c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_iterencode: Any = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _json_default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
)


def encode_json(value: object) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON, converting datetimes, Decimals, UUIDs and sets."""
    if _iterencode is None or isinstance(value, str):  # pragma: no cover - no C accelerator
        return _encoder.encode(value).encode("utf-8", "surrogatepass")
    try:
        chunks = _iterencode(value, 0)
    except RecursionError:
        raise ValueError("the value is circular or nested too deeply to become JSON") from None
    return "".join(chunks).encode("utf-8", "surrogatepass")


def check_properties(value: object, field: str = "properties") -> dict[str, Any]:
    """Return ``value`` as a dict if it is a mapping with string keys, else raise.

    Values are checked when the event is encoded (see :func:`describe_json_error`).
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a mapping, not {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise TypeError(f"{field} keys must be str; got {key!r} ({type(key).__name__})")
    return dict(value)


def describe_json_error(value: object, field: str) -> str:
    """Find the first part of ``value`` that cannot become JSON and describe its key path."""
    path = _find_bad_path(value, field, depth=0)
    return path or f"{field} cannot become JSON"


def _find_bad_path(value: object, path: str, depth: int) -> str | None:
    if depth > 200:
        return f"{path}: nested too deeply"
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return (
            None
            if value == value and value not in (float("inf"), float("-inf"))
            else (f"{path}: {value!r} is not a finite number and cannot become JSON")
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                return f"{path}: key {key!r} ({type(key).__name__}) is not a str"
            found = _find_bad_path(item, f"{path}[{key!r}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _find_bad_path(item, f"{path}[{index}]", depth + 1)
            if found:
                return found
        return None
    try:
        converted = _json_default(value)
    except (TypeError, ValueError) as exc:
        return f"{path}: {exc}"
    return _find_bad_path(converted, path, depth + 1)


def new_event(
    event: str,
    distinct_id: str,
    properties: dict[str, Any],
    *,
    timestamp: str | None = None,
    uuid: str | None = None,
) -> dict[str, Any]:
    """Build a complete event dict from already-validated parts.

    ``properties`` is taken over (not copied): ``$lib`` and ``$lib_version`` are set on it.
    Integrations use this with :meth:`posthog_web.Client.enqueue` on the request path.
    """
    properties[PROP_LIB] = LIB_NAME
    properties[PROP_LIB_VERSION] = LIB_VERSION
    return {
        "event": event,
        "distinct_id": distinct_id,
        "uuid": uuid or uuid7(),
        "timestamp": timestamp or now_iso(),
        "properties": properties,
    }


def new_partial_event(event: str, distinct_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Like :func:`new_event` without ``timestamp`` and ``uuid``: :func:`complete_event`
    adds them to the encoded event later (``Client.capture()`` leaves that work to the
    sender thread)."""
    properties[PROP_LIB] = LIB_NAME
    properties[PROP_LIB_VERSION] = LIB_VERSION
    return {"event": event, "distinct_id": distinct_id, "properties": properties}


# ,"timestamp":"<32 characters>","uuid":"<36 characters>"
_COMPLETION_BYTES = len(b',"timestamp":"","uuid":""') + 36
_ISO_LENGTH_SAMPLE = "2026-12-01T08:11:51.997715+00:00"


def completion_bytes(timestamp: str | None) -> int:
    """How many bytes :func:`complete_event` adds with this ``timestamp``."""
    return _COMPLETION_BYTES + (len(_ISO_LENGTH_SAMPLE) if timestamp is None else len(timestamp))


def complete_event(encoded: bytes, unix_ns: int, timestamp: str | None) -> bytes:
    """Add ``timestamp`` (or ``unix_ns`` as ISO 8601) and a new UUIDv7 whose time part is
    ``unix_ns`` to an event encoded from :func:`new_partial_event`.

    ``timestamp`` is as :func:`format_timestamp` returns it: ASCII with nothing to escape.
    """
    return complete_events([(encoded, unix_ns, timestamp)])[0]


def complete_events(partials: Sequence[tuple[bytes, int, str | None]]) -> list[bytes]:
    """:func:`complete_event` for each of ``partials``, reading the random source once."""
    randomness = os.urandom(10 * len(partials)).hex()
    completed = []
    for index, (encoded, unix_ns, timestamp) in enumerate(partials):
        stamp = iso_at(unix_ns) if timestamp is None else timestamp
        uuid = _uuid7_with(unix_ns // 1_000_000, randomness[20 * index : 20 * index + 20])
        completed.append(
            b"".join(
                (
                    encoded[:-1],
                    b',"timestamp":"',
                    stamp.encode(),
                    b'","uuid":"',
                    uuid.encode(),
                    b'"}',
                )
            )
        )
    return completed


_VARIANT_OF_HEX = {digit: _VARIANT[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_uuid_prefix: tuple[int, str] = (-1, "")


def _uuid7_with(unix_ms: int, r: str) -> str:
    # What uuid7_at returns, given its 20 random hex digits; faster: events captured in a
    # loop share their millisecond, so its hex is formatted once for all of them.
    global _uuid_prefix
    cached = _uuid_prefix
    if cached[0] != unix_ms:
        t = f"{unix_ms & 0xFFFF_FFFF_FFFF:012x}"
        cached = _uuid_prefix = (unix_ms, f"{t[:8]}-{t[8:]}-7")
    return f"{cached[1]}{r[:3]}-{_VARIANT_OF_HEX[r[3]]}{r[4:7]}-{r[7:19]}"


_second_at: tuple[int, str] = (-1, "")


def iso_at(unix_ns: int) -> str:
    """Return ``unix_ns`` as :func:`now_iso` formats the current time."""
    global _second_at
    seconds, nanos = divmod(unix_ns, 1_000_000_000)
    cached = _second_at
    if cached[0] != seconds:
        stamp = dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        cached = _second_at = (seconds, stamp)
    return f"{cached[1]}.{nanos // 1000:06d}+00:00"
