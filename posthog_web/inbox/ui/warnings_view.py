"""The warnings view: what PostHog would not show but a developer needs to know."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from posthog_web.inbox.analytics import event_time
from posthog_web.inbox.persons import ALREADY_IDENTIFIED, IDENTIFY
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.sessions import PAGE_EVENTS
from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.html import esc, link, table
from posthog_web.inbox.ui.registry import View, ViewContext, register

SHOWN = 100
#: A sent_at this far from the receive time is a device clock PostHog corrects.
SKEW_SECONDS = 60.0
#: PostHog clamps a timestamp further in the future than this to the receive time.
FUTURE = dt.timedelta(hours=23)


def _listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"count": len(items), "items": items[:SHOWN]}


def figures(ctx: ViewContext) -> dict[str, Any]:
    """Each kind of warning with its count and the first items."""
    snapshot = ctx.data.snapshot()
    seen = ctx.requests[-1].received_at if ctx.requests else None
    return snapshot.memo(
        ("warnings", len(ctx.requests), seen), lambda: _warnings(snapshot, ctx.requests)
    )


def _warnings(snapshot: Snapshot, requests: list[RecordedRequest]) -> dict[str, Any]:
    rejected = [
        {
            "method": r.method,
            "path": r.path,
            "status": r.status,
            "reason": r.error,
            "received_at": dt.datetime.fromtimestamp(r.received_at, dt.timezone.utc).isoformat(),
        }
        for r in requests
        if r.error is not None
    ]
    merged_twice = [
        {"reason": r["reason"], "distinct_id": r["distinct_id"], "other": r["other_distinct_id"]}
        for r in snapshot.refusals
        if r["reason"] == ALREADY_IDENTIFIED
    ]
    anon_targets: dict[str, set[str]] = defaultdict(set)
    no_session, personless, skewed = [], Counter[str](), []
    uuids: dict[str, list[int]] = defaultdict(list)
    for row in snapshot.rows:
        data = row.data
        properties = data.get("properties") or {}
        if data["event"] == IDENTIFY and isinstance(properties.get("$anon_distinct_id"), str):
            anon_targets[properties["$anon_distinct_id"]].add(data["distinct_id"])
        if data["event"] in PAGE_EVENTS and not properties.get("$session_id"):
            no_session.append({"id": row.id, "distinct_id": data["distinct_id"]})
        if (
            properties.get("$process_person_profile") is False
            and data["distinct_id"] not in snapshot.person_of
        ):
            personless[data["distinct_id"]] += 1
        if isinstance(data.get("uuid"), str):
            uuids[data["uuid"]].append(row.id)
        key = ("skew", row.id)
        if key not in snapshot.per_row:
            snapshot.per_row[key] = _skew(data, row.received_at)
        skew = snapshot.per_row[key]
        if skew is not None:
            skewed.append({"id": row.id, "event": data["event"], **skew})
    for anon, targets in anon_targets.items():
        if len(targets) > 1:
            merged_twice.append(
                {
                    "reason": "identified as several users",
                    "distinct_id": anon,
                    "other": sorted(targets),
                }
            )
    return {
        "rejected": _listed(rejected),
        "merged_twice": _listed(merged_twice),
        "pageviews_without_session_id": _listed(no_session),
        "personless": _listed([{"distinct_id": d, "events": n} for d, n in personless.items()]),
        "duplicate_uuids": _listed(
            [{"uuid": u, "ids": ids} for u, ids in uuids.items() if len(ids) > 1]
        ),
        "clock_skew": _listed(skewed),
    }


def _skew(data: dict[str, Any], received_at: str) -> dict[str, Any] | None:
    received = event_time({}, received_at)
    sent = event_time({"timestamp": data.get("sent_at")})
    stamp = event_time({"timestamp": data.get("timestamp")})
    if received is None:
        return None
    if sent is not None and abs((sent - received).total_seconds()) > SKEW_SECONDS:
        seconds = (sent - received).total_seconds()
        return {"seconds": seconds, "what": "sent_at differs from the receive time: PostHog "
                "shifts the timestamp by the skew, rounded to 5 minutes"}  # fmt: skip
    if sent is None and stamp is not None and stamp - received > FUTURE:
        seconds = (stamp - received).total_seconds()
        return {"seconds": seconds, "what": "timestamp over 23 h in the future: PostHog uses "
                "the receive time"}  # fmt: skip
    return None


_SECTIONS = (
    ("rejected", "Requests PostHog would reject", ("method", "path", "status", "reason")),
    ("merged_twice", "Persons merged twice", ("distinct_id", "other", "reason")),
    ("pageviews_without_session_id", "Page views without $session_id", ("id", "distinct_id")),
    ("personless", "Personless events that will never join a person", ("distinct_id", "events")),
    ("duplicate_uuids", "Duplicate uuids", ("uuid", "ids")),
    (
        "clock_skew",
        "Clock skew between timestamp and received time",
        ("id", "event", "seconds", "what"),
    ),
)


def _cell(name: str, value: Any) -> str:
    if name == "id":
        return link("/event", value, id=value)
    if name == "distinct_id":
        return link("/person", value, id=value)
    if isinstance(value, list):
        return esc(", ".join(map(str, value)))
    return esc(round(value, 1) if isinstance(value, float) else value)


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """One table per kind of warning."""
    parts = []
    for key, title, columns in _SECTIONS:
        listed = found[key]
        rows = [[_cell(c, item.get(c)) for c in columns] for item in listed["items"]]
        parts.append(
            f'<section data-warning="{key}"><h2>{esc(title)}: <span class="count">'
            f"{listed['count']}</span></h2>{table(columns, rows)}</section>"
        )
    return "".join(parts)


VIEW = register(View("warnings", "Warnings", figures, render, order=90))
