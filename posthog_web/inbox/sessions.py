"""Page views grouped by ``$session_id``, flagged when web analytics would ignore them (§6.2)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

PAGE_EVENTS = frozenset({"$pageview", "$screen"})
_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_uuid7(value: Any) -> bool:
    """True when ``value`` is a canonical UUID string whose version nibble is 7.

    Like PostHog's sessions table, only the version nibble is checked, not the variant.
    """
    if not isinstance(value, str) or _CANONICAL_UUID.fullmatch(value) is None:
        return False
    return value[14] == "7"


def group_sessions(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group page views by ``properties.$session_id`` (None for none), in order of first view."""
    sessions: dict[Any, dict[str, Any]] = {}
    for event in events:
        if event["event"] not in PAGE_EVENTS:
            continue
        properties = event.get("properties") or {}
        raw_id = properties.get("$session_id")
        key = raw_id if isinstance(raw_id, str) else None if raw_id is None else repr(raw_id)
        session = sessions.get(key)
        if session is None:
            session = sessions[key] = {
                "session_id": key,
                "valid_uuid7": is_uuid7(key),
                "pageviews": 0,
                "distinct_ids": [],
                "first_timestamp": event.get("timestamp"),
                "last_timestamp": event.get("timestamp"),
                "entry_url": properties.get("$current_url"),
                "exit_url": properties.get("$current_url"),
            }
        session["pageviews"] += 1
        if event["distinct_id"] not in session["distinct_ids"]:
            session["distinct_ids"].append(event["distinct_id"])
        session["last_timestamp"] = event.get("timestamp")
        session["exit_url"] = properties.get("$current_url")
    return list(sessions.values())
