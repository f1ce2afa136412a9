"""Web analytics figures computed the way PostHog's Web Analytics defines them (see docs/inbox.md).

Page views are ``$pageview`` and ``$screen`` events; sessions are their valid UUIDv7
``$session_id`` values; visitors are distinct persons (after merges); a session bounces when it
has at most one page view or autocapture and lasts under 10 s; entry and exit pages are the
paths of a session's first and last page view (docs/posthog-ingestion.md §6.2).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from posthog_web.inbox.sessions import PAGE_EVENTS, is_uuid7

BOUNCE_SECONDS = 10.0
RANGES: dict[str, dt.timedelta | None] = {
    "hour": dt.timedelta(hours=1),
    "day": dt.timedelta(days=1),
    "all": None,
}
BUCKETS = 24
TOP = 10
_AUTOCAPTURE = "$autocapture"
#: Event-level breakdowns: (name, property).
EVENT_BREAKDOWNS = (
    ("browsers", "$browser"),
    ("operating_systems", "$os"),
    ("device_types", "$device_type"),
    ("countries", "$geoip_country_code"),
)
#: Session-level breakdowns, read from the session's first page view.
SESSION_BREAKDOWNS = (
    ("referring_domains", "$referring_domain"),
    ("utm_sources", "utm_source"),
    ("utm_campaigns", "utm_campaign"),
)


def event_time(event: Mapping[str, Any], received_at: str | None = None) -> dt.datetime | None:
    """The event's ``timestamp`` (else the receive time) as an aware UTC datetime, or None."""
    for raw in (event.get("timestamp"), received_at):
        if isinstance(raw, str):
            try:
                value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                continue
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.timezone.utc)
            return value.astimezone(dt.timezone.utc)
    return None


def pathname(properties: Mapping[str, Any]) -> str | None:
    """``$pathname``, else the path of ``$current_url`` (what the Page breakdown uses)."""
    path = properties.get("$pathname")
    if isinstance(path, str) and path:
        return path
    url = properties.get("$current_url")
    if isinstance(url, str) and url:
        try:
            return urlsplit(url).path or "/"
        except ValueError:
            return None
    return None


@dataclass
class _Session:
    start: dt.datetime
    end: dt.datetime
    pages: list[str | None] = field(default_factory=list)
    interactions: int = 0
    first_page: Mapping[str, Any] | None = None
    person: str = ""


@dataclass
class TimedEvent:
    """An event with its time and who it happened to (a person key, or a distinct id that
    ``web_analytics(person_of=...)`` maps to one)."""

    time: dt.datetime
    person: str
    event: Mapping[str, Any]

    @functools.cached_property
    def path(self) -> str | None:
        """The page's path (computed once: every view reads it)."""
        return pathname(self.event.get("properties") or {})


def web_analytics(
    events: Iterable[TimedEvent],
    *,
    now: dt.datetime,
    range_name: str = "day",
    person_of: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Web Analytics overview, time series and breakdowns for ``range_name``.

    Args:
        events: the stored events with their times and persons, in arrival order.
        now: the end of the range (aware).
        range_name: ``hour``, ``day`` or ``all``.
        person_of: distinct id -> person key, for ids merged into a person (others stand alone).
    """
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, not {range_name!r}")
    span = RANGES[range_name]
    start = None if span is None else now - span
    chosen = [e for e in events if start is None or start <= e.time <= now]
    if person_of:
        chosen = [_as_person(e, person_of) for e in chosen]
    pages = [e for e in chosen if e.event["event"] in PAGE_EVENTS]
    sessions = _sessions(chosen)
    bounces = sum(1 for s in sessions.values() if _is_bounce(s))
    durations = [(s.end - s.start).total_seconds() for s in sessions.values()]
    return {
        "range": range_name,
        "start": None if start is None else start.isoformat(),
        "end": now.isoformat(),
        "visitors": len({e.person for e in pages}),
        "page_views": len(pages),
        "sessions": len(sessions),
        "session_duration": sum(durations) / len(durations) if durations else 0.0,
        "bounce_rate": bounces / len(sessions) if sessions else 0.0,
        "series": _series(pages, start, now),
        "breakdowns": _breakdowns(pages, sessions),
    }


def _as_person(timed: TimedEvent, person_of: Mapping[str, str]) -> TimedEvent:
    person = person_of.get(timed.person)
    if person is None or person == timed.person:
        return timed
    mapped = TimedEvent(timed.time, person, timed.event)
    mapped.__dict__.update(path=timed.path)
    return mapped


def _sessions(events: list[TimedEvent]) -> dict[str, _Session]:
    sessions: dict[str, _Session] = {}
    invalid: set[str] = set()
    for timed in events:
        properties = timed.event.get("properties") or {}
        session_id = properties.get("$session_id")
        if not isinstance(session_id, str) or session_id in invalid:
            continue
        session = sessions.get(session_id)
        if session is None:
            if not is_uuid7(session_id):
                invalid.add(session_id)
                continue
            session = sessions[session_id] = _Session(timed.time, timed.time)
        if timed.time < session.start:
            session.start = timed.time
        elif timed.time > session.end:
            session.end = timed.time
        name = timed.event["event"]
        if name in PAGE_EVENTS:
            session.pages.append(timed.path)
            session.interactions += 1
            if session.first_page is None:
                session.first_page, session.person = properties, timed.person
        elif name == _AUTOCAPTURE:
            session.interactions += 1
    # A session without a page view has no entry page and is not a web analytics session.
    return {key: s for key, s in sessions.items() if s.pages}


def _is_bounce(session: _Session) -> bool:
    return session.interactions <= 1 and (session.end - session.start).total_seconds() < (
        BOUNCE_SECONDS
    )


def _series(pages: list[TimedEvent], start: dt.datetime | None, now: dt.datetime) -> list[Any]:
    if start is None:
        if not pages:
            return []
        start, now = min(e.time for e in pages), max(e.time for e in pages)
    width = max((now - start) / BUCKETS, dt.timedelta(seconds=1))
    views = [0] * BUCKETS
    visitors: list[set[str]] = [set() for _ in range(BUCKETS)]
    for timed in pages:
        index = min(int((timed.time - start) / width), BUCKETS - 1)
        views[index] += 1
        visitors[index].add(timed.person)
    return [
        {"start": (start + width * i).isoformat(), "page_views": views[i], "visitors": len(v)}
        for i, v in enumerate(visitors)
    ]


def _tally(pairs: list[tuple[Any, str]], key: str) -> list[dict[str, Any]]:
    """The top values of (value, person) pairs, with visitors and ``key`` (views or sessions)."""
    try:
        counted = Counter(pairs)  # counting in C: this is the hot loop with 100,000 events
    except TypeError:  # an unhashable value (a list or an object) in a property
        counted = Counter((v if isinstance(v, str) else str(v), p) for v, p in pairs)
    people: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for (value, _), n in counted.items():
        if value is None or value == "":
            continue
        name = value if isinstance(value, str) else str(value)
        people[name] += 1
        counts[name] += n
    ranked = sorted(people, key=lambda value: (-people[value], -counts[value], value))
    return [{"value": v, "visitors": people[v], key: counts[v]} for v in ranked[:TOP]]


def _breakdowns(pages: list[TimedEvent], sessions: dict[str, _Session]) -> dict[str, Any]:
    found = {"pages": _tally([(e.path, e.person) for e in pages], "views")}
    props = [(e.event.get("properties") or {}, e.person) for e in pages]
    for name, prop in EVENT_BREAKDOWNS:
        found[name] = _tally([(p.get(prop), person) for p, person in props], "views")
    ordered = list(sessions.values())
    found["entry_pages"] = _tally([(s.pages[0], s.person) for s in ordered], "sessions")
    found["exit_pages"] = _tally([(s.pages[-1], s.person) for s in ordered], "sessions")
    for name, prop in SESSION_BREAKDOWNS:
        found[name] = _tally(
            [((s.first_page or {}).get(prop), s.person) for s in ordered], "sessions"
        )
    return found
