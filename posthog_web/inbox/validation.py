"""PostHog's v0 capture validation: a decoded request becomes events or a refusal.

The rules follow docs/posthog-ingestion.md §1.3, §1.4, §1.6 and §3.1. One bad event refuses the
whole request, as capture does. ``$exception`` events also get what error tracking makes of
them (:mod:`posthog_web.inbox.exceptions`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from posthog_web.inbox.decoding import DecodeError, decode_body
from posthog_web.inbox.exceptions import EXCEPTION_EVENT, process_exception

BATCH_LIMIT = 20 * 1024 * 1024
EVENT_LIMIT = 2 * 1024 * 1024
MAX_DISTINCT_ID_CHARS = 200
MAX_TOKEN_CHARS = 64
PERFORMANCE_EVENT = "$performance_event"
ENGAGE_PATH = "/engage"
_TOKEN_KEYS = ("token", "$token", "api_key")


@dataclass(frozen=True)
class Refusal:
    """A request capture refuses: the HTTP status and PostHog-style error fields."""

    status: int
    code: str
    detail: str

    def body(self) -> dict[str, Any]:
        """The JSON error body (both the older and the newer PostHog spellings)."""
        kind = "authentication_error" if self.status in (401, 403) else "validation_error"
        return {
            "type": kind,
            "code": self.code,
            "detail": self.detail,
            "status": self.status,
            "error": self.detail,
        }


@dataclass(frozen=True)
class Accepted:
    """A request capture accepts; ``events`` are normalized and ready to store."""

    events: list[dict[str, Any]]


class _Refused(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.refusal = Refusal(status, code, detail)


def _bad(code: str, detail: str) -> _Refused:
    return _Refused(400, code, detail)


def body_limit(path: str) -> int:
    """The decompressed size limit of a capture route (path without trailing slash)."""
    return BATCH_LIMIT if path == "/batch" else EVENT_LIMIT


def validate_capture(
    path: str,
    body: bytes,
    *,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> Accepted | Refusal:
    """Decode and validate one capture request to ``path`` (no trailing slash)."""
    try:
        payload = decode_body(
            body,
            query=query,
            content_type=headers.get("content-type"),
            content_encoding=headers.get("content-encoding"),
            limit=body_limit(path),
        )
        return Accepted(_events_of(payload, path, query))
    except DecodeError as exc:
        return Refusal(exc.status, exc.code, exc.detail)
    except _Refused as exc:
        return exc.refusal


def _events_of(payload: Any, path: str, query: Mapping[str, str]) -> list[dict[str, Any]]:
    batch_token: Any = None
    sent_at: Any = None
    if isinstance(payload, list):
        raw_events: list[Any] = payload
    elif isinstance(payload, dict) and "batch" in payload and _batch_token(payload) is not None:
        batch_token = _batch_token(payload)
        raw_events = payload["batch"]
        sent_at = payload.get("sent_at")
        if not isinstance(raw_events, list):
            raise _bad("invalid_payload", "batch must be an array")
        if sent_at is not None and not _is_iso_datetime(sent_at):
            raise _bad("invalid_payload", "sent_at must be an ISO 8601 string")
        if not isinstance(payload.get("historical_migration", False), bool):
            raise _bad("invalid_payload", "historical_migration must be a boolean")
    elif isinstance(payload, dict) and ("event" in payload or path == ENGAGE_PATH):
        raw_events = [payload]
    elif isinstance(payload, dict):
        raise _bad("request_hydration_error", "non-engage request missing event name")
    else:
        raise _bad("invalid_payload", "body must be an event, an array or a batch object")
    if not raw_events:
        raise _bad("empty_batch", "the batch is empty")

    engage = path == ENGAGE_PATH
    events = [_parse_event(raw, index, engage) for index, raw in enumerate(raw_events)]
    token = _request_token(batch_token, events)
    sent_at = sent_at if sent_at is not None else _query_sent_at(query)
    out = []
    for event, _ in events:
        if event["event"] == PERFORMANCE_EVENT:
            continue
        if event["event"] == EXCEPTION_EVENT:
            # Capture accepts any $exception; error tracking then parses it (or warns).
            process_exception(event["properties"])
        if sent_at is not None:
            event["sent_at"] = sent_at
        event["api_key"] = token
        out.append(event)
    return out


def _batch_token(payload: Mapping[str, Any]) -> str | None:
    for key in ("api_key", "token"):
        if isinstance(payload.get(key), str):
            return str(payload[key])
    return None


def _parse_event(raw: Any, index: int, engage: bool) -> tuple[dict[str, Any], str | None]:
    """Check one event's fields; return it normalized plus its own token (or None)."""
    where = f"event {index}"
    if not isinstance(raw, dict):
        raise _bad("invalid_payload", f"{where} is not an object")
    name = raw.get("event")
    if name is None and engage:
        name = "$identify"
    if name is None or name == "":
        raise _bad("missing_event_name", f"{where} has no event name")
    if not isinstance(name, str):
        raise _bad("invalid_payload", f"{where}: event must be a string")
    properties = raw.get("properties", {})
    if not isinstance(properties, dict):
        raise _bad("invalid_payload", f"{where}: properties must be an object")
    event: dict[str, Any] = {
        "event": name,
        "distinct_id": _distinct_id(raw, properties, where),
        "uuid": _uuid(raw.get("uuid"), where),
        "timestamp": _timestamp(raw.get("timestamp"), where),
        "properties": properties,
    }
    offset = raw.get("offset")
    if offset is not None and (not isinstance(offset, int) or isinstance(offset, bool)):
        raise _bad("invalid_payload", f"{where}: offset must be an integer")
    for key in ("$set", "$set_once"):
        value = raw.get(key)
        if value is not None and not isinstance(value, dict):
            raise _bad("invalid_payload", f"{where}: {key} must be an object")
        if value is not None:
            event[key] = value
    cookieless = properties.get("$cookieless_mode")
    if cookieless is not None and not isinstance(cookieless, bool):
        raise _bad("invalid_cookieless", f"{where}: $cookieless_mode must be a boolean")
    return event, _event_token(raw, properties, where)


def _distinct_id(raw: Mapping[str, Any], properties: Mapping[str, Any], where: str) -> str:
    value = raw.get("distinct_id")
    if value is None:
        value = raw.get("$distinct_id")
    if value is None:
        value = properties.get("distinct_id")
    if value is None:
        raise _bad("missing_distinct_id", f"{where} has no distinct_id")
    if not isinstance(value, str):
        # Capture stores the JSON text of a non-string id (123 -> "123").
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value == "":
        raise _bad("missing_distinct_id", f"{where} has an empty distinct_id")
    return value.replace("\x00", "\ufffd")[:MAX_DISTINCT_ID_CHARS]


def _uuid(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("invalid_uuid", f"{where}: uuid must be a string")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise _bad("invalid_uuid", f"{where}: uuid {value[:50]!r} is not a UUID") from None


def _timestamp(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("invalid_timestamp", f"{where}: timestamp must be a string")
    return value


def _event_token(raw: Mapping[str, Any], properties: Mapping[str, Any], where: str) -> str | None:
    for key in _TOKEN_KEYS:
        if key in raw and raw[key] is not None:
            if not isinstance(raw[key], str):
                raise _bad("invalid_payload", f"{where}: {key} must be a string")
            return str(raw[key])
    token = properties.get("token")
    return token if isinstance(token, str) else None


def _request_token(batch_token: str | None, events: list[tuple[dict[str, Any], str | None]]) -> str:
    if batch_token is not None:
        return _checked_token(batch_token)
    if any(token is None for _, token in events):
        raise _Refused(401, "ingest_key_required", "an event carries no api_key/token")
    tokens = {token.strip() for _, token in events if token is not None}
    if len(tokens) > 1:
        raise _bad("multiple_tokens", "events in one request carry different tokens")
    return _checked_token(tokens.pop())


def _checked_token(token: str) -> str:
    token = token.strip()
    if not token:
        raise _Refused(401, "ingest_key_required", "the api_key/token is empty")
    if token.startswith("phx_"):
        raise _Refused(403, "personal_api_key", "personal API keys (phx_) cannot capture")
    if len(token) > MAX_TOKEN_CHARS or not token.isascii() or "\x00" in token:
        raise _Refused(403, "ingest_key_invalid", "the api_key/token is badly shaped")
    return token


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _query_sent_at(query: Mapping[str, str]) -> str | None:
    """The ``_``/``sent_at`` query parameter (epoch ms) as an ISO string, if usable."""
    raw = query.get("sent_at") or query.get("_")
    if raw is None or not raw.isdecimal():
        return None
    try:
        moment = dt.datetime.fromtimestamp(int(raw) / 1000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    # Values that land before 2021 were sent in seconds; capture ignores them.
    if moment.year <= 2020:
        return None
    return moment.isoformat()
