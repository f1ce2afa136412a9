"""Web analytics figures computed the way PostHog's Web Analytics defines them (see docs/inbox.md).

Page views are ``$pageview`` and ``$screen`` events; sessions are their valid UUIDv7
``$session_id`` values; visitors are distinct persons (after merges); a session bounces when it
has at most one page view or autocapture and lasts under 10 s; entry and exit pages are the
paths of a session's first and last page view (docs/posthog-ingestion.md §6.2).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
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


class Facts(NamedTuple):
    """What the analytics read of one event, extracted once (the hot loops read only these)."""

    ts: float
    #: 1 for a page view or screen, 2 for an autocapture, 0 otherwise.
    kind: int
    #: The ``$session_id`` when it is a UUIDv7, else None (no session for web analytics).
    session: str | None
    path: str | None
    #: The EVENT_BREAKDOWNS properties, then the SESSION_BREAKDOWNS ones, as text or None.
    values: tuple[str | None, ...]


def _text(value: Any) -> str | None:
    return value if value is None or isinstance(value, str) else str(value)


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

    @functools.cached_property
    def facts(self) -> Facts:
        """The event's analytics facts (computed once)."""
        properties = self.event.get("properties") or {}
        name = self.event["event"]
        kind = 1 if name in PAGE_EVENTS else 2 if name == _AUTOCAPTURE else 0
        session = properties.get("$session_id")
        valid = session if isinstance(session, str) and is_uuid7(session) else None
        values = tuple(_text(properties.get(prop)) for _, prop in _BREAKDOWN_PROPERTIES)
        return Facts(self.time.timestamp(), kind, valid, self.path, values)


_BREAKDOWN_PROPERTIES = (*EVENT_BREAKDOWNS, *SESSION_BREAKDOWNS)
_Visit = tuple[Facts, str]


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
    low = -math.inf if start is None else start.timestamp()
    high = now.timestamp()
    of = person_of or {}
    chosen: list[_Visit] = [
        (f, of.get(e.person, e.person))
        for e in events
        if low <= (f := e.facts).ts <= high or start is None
    ]
    pages = [visit for visit in chosen if visit[0].kind == 1]
    sessions = _sessions(chosen)
    durations = [s[1] - s[0] for s in sessions.values()]
    bounces = sum(1 for s, d in zip(sessions.values(), durations, strict=True) if _bounce(s, d))
    return {
        "range": range_name,
        "start": None if start is None else start.isoformat(),
        "end": now.isoformat(),
        "visitors": len({person for _, person in pages}),
        "page_views": len(pages),
        "sessions": len(sessions),
        "session_duration": sum(durations) / len(durations) if durations else 0.0,
        "bounce_rate": bounces / len(sessions) if sessions else 0.0,
        "series": _series(pages, start, now),
        "breakdowns": _breakdowns(pages, sessions),
    }


# A session as a list, for speed: [start, end, pages (paths), interactions, first page, person].
_Session = list[Any]


def _sessions(visits: list[_Visit]) -> dict[str, _Session]:
    sessions: dict[str, _Session] = {}
    for facts, person in visits:
        if facts.session is None:
            continue
        session = sessions.get(facts.session)
        if session is None:
            session = sessions[facts.session] = [facts.ts, facts.ts, [], 0, None, person]
        elif facts.ts < session[0]:
            session[0] = facts.ts
        elif facts.ts > session[1]:
            session[1] = facts.ts
        if facts.kind == 1:
            session[2].append(facts.path)
            session[3] += 1
            if session[4] is None:
                session[4], session[5] = facts, person
        elif facts.kind == 2:
            session[3] += 1
    # A session without a page view has no entry page and is not a web analytics session.
    return {key: s for key, s in sessions.items() if s[2]}


def _bounce(session: _Session, duration: float) -> bool:
    return bool(session[3] <= 1 and duration < BOUNCE_SECONDS)


def _series(pages: list[_Visit], start: dt.datetime | None, now: dt.datetime) -> list[Any]:
    if start is None:
        if not pages:
            return []
        low = min(f.ts for f, _ in pages)
        high = max(f.ts for f, _ in pages)
    else:
        low, high = start.timestamp(), now.timestamp()
    width = max((high - low) / BUCKETS, 1.0)
    views = [0] * BUCKETS
    visitors: list[set[str]] = [set() for _ in range(BUCKETS)]
    for facts, person in pages:
        index = min(int((facts.ts - low) / width), BUCKETS - 1)
        views[index] += 1
        visitors[index].add(person)
    return [
        {
            "start": dt.datetime.fromtimestamp(low + width * i, dt.timezone.utc).isoformat(),
            "page_views": views[i],
            "visitors": len(v),
        }
        for i, v in enumerate(visitors)
    ]


def _tally(pairs: list[tuple[str | None, str]], key: str) -> list[dict[str, Any]]:
    """The top values of (value, person) pairs, with visitors and ``key`` (views or sessions)."""
    counted = Counter(pairs)  # counting in C: this is the hot loop with 100,000 events
    people: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for (value, _), n in counted.items():
        if value is None or value == "":
            continue
        people[value] += 1
        counts[value] += n
    ranked = sorted(people, key=lambda value: (-people[value], -counts[value], value))
    return [{"value": v, "visitors": people[v], key: counts[v]} for v in ranked[:TOP]]


def _breakdowns(pages: list[_Visit], sessions: dict[str, _Session]) -> dict[str, Any]:
    found = {"pages": _tally([(f.path, p) for f, p in pages], "views")}
    for i, (name, _) in enumerate(EVENT_BREAKDOWNS):
        found[name] = _tally([(f.values[i], p) for f, p in pages], "views")
    ordered = list(sessions.values())
    found["entry_pages"] = _tally([(s[2][0], s[5]) for s in ordered], "sessions")
    found["exit_pages"] = _tally([(s[2][-1], s[5]) for s in ordered], "sessions")
    offset = len(EVENT_BREAKDOWNS)
    for i, (name, _) in enumerate(SESSION_BREAKDOWNS, start=offset):
        found[name] = _tally([(s[4].values[i], s[5]) for s in ordered], "sessions")
    return found
