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
from itertools import compress
from operator import itemgetter
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
_TS, _KIND, _PATH, _VALUES = (itemgetter(i) for i in (0, 1, 3, 4))
_FIRST = itemgetter(0)


class _Pages(NamedTuple):
    """The page views in range, as two columns: their facts and their persons."""

    facts: list[Facts]
    persons: list[str]


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
    chosen = events if start is None else (e for e in events if low <= e.facts.ts <= high)
    # Column-wise, so the counting of 100,000 events runs in C (Counter, set, zip, compress).
    facts: list[Facts] = []
    persons: list[str] = []
    for event in chosen:
        facts.append(event.facts)
        persons.append(of.get(event.person, event.person))
    is_page = [kind == 1 for kind in map(_KIND, facts)]
    pages = _Pages(list(compress(facts, is_page)), list(compress(persons, is_page)))
    sessions = _sessions(facts, persons)
    durations = [s[1] - s[0] for s in sessions.values()]
    bounces = sum(1 for s, d in zip(sessions.values(), durations, strict=True) if _bounce(s, d))
    return {
        "range": range_name,
        "start": None if start is None else start.isoformat(),
        "end": now.isoformat(),
        "visitors": len(set(pages.persons)),
        "page_views": len(pages.facts),
        "sessions": len(sessions),
        "session_duration": sum(durations) / len(durations) if durations else 0.0,
        "bounce_rate": bounces / len(sessions) if sessions else 0.0,
        "series": _series(pages, start, now),
        "breakdowns": _breakdowns(pages, sessions),
    }


# A session as a list, for speed: [start, end, pages (paths), interactions, first page's
# breakdown values, its person].
_Session = list[Any]


def _sessions(facts: list[Facts], persons: list[str]) -> dict[str, _Session]:
    sessions: dict[str, _Session] = {}
    for (ts, kind, key, path, values), person in zip(facts, persons, strict=True):
        if key is None:
            continue
        session = sessions.get(key)
        if session is None:
            session = sessions[key] = [ts, ts, [], 0, None, person]
        elif ts < session[0]:
            session[0] = ts
        elif ts > session[1]:
            session[1] = ts
        if kind == 1:
            session[2].append(path)
            session[3] += 1
            if session[4] is None:
                session[4], session[5] = values, person
        elif kind == 2:
            session[3] += 1
    # A session without a page view has no entry page and is not a web analytics session.
    return {key: s for key, s in sessions.items() if s[2]}


def _bounce(session: _Session, duration: float) -> bool:
    return bool(session[3] <= 1 and duration < BOUNCE_SECONDS)


def _series(pages: _Pages, start: dt.datetime | None, now: dt.datetime) -> list[Any]:
    times = list(map(_TS, pages.facts))
    if start is None:
        if not times:
            return []
        low, high = min(times), max(times)
    else:
        low, high = start.timestamp(), now.timestamp()
    width = max((high - low) / BUCKETS, 1.0)
    last = BUCKETS - 1
    buckets = [min(int((ts - low) / width), last) for ts in times]
    views = Counter(buckets)
    visitors = Counter(map(_FIRST, set(zip(buckets, pages.persons, strict=True))))
    return [
        {
            "start": dt.datetime.fromtimestamp(low + width * i, dt.timezone.utc).isoformat(),
            "page_views": views[i],
            "visitors": visitors[i],
        }
        for i in range(BUCKETS)
    ]


def _tally(values: list[str | None], persons: list[str], key: str) -> list[dict[str, Any]]:
    """The top values, with their visitors (distinct persons) and ``key`` (views or sessions)."""
    counts: Counter[str | None] = Counter(values)
    people: Counter[str | None] = Counter(map(_FIRST, set(zip(values, persons, strict=True))))
    for blank in (None, ""):
        counts.pop(blank, None)
        people.pop(blank, None)
    ranked = sorted(people, key=lambda value: (-people[value], -counts[value], value))
    return [{"value": v, "visitors": people[v], key: counts[v]} for v in ranked[:TOP]]


def _breakdowns(pages: _Pages, sessions: dict[str, _Session]) -> dict[str, Any]:
    found = {"pages": _tally(list(map(_PATH, pages.facts)), pages.persons, "views")}
    page_values = list(map(_VALUES, pages.facts))
    for i, (name, _) in enumerate(EVENT_BREAKDOWNS):
        found[name] = _tally(list(map(itemgetter(i), page_values)), pages.persons, "views")
    ordered = list(sessions.values())
    owners = [s[5] for s in ordered]
    found["entry_pages"] = _tally([s[2][0] for s in ordered], owners, "sessions")
    found["exit_pages"] = _tally([s[2][-1] for s in ordered], owners, "sessions")
    offset = len(EVENT_BREAKDOWNS)
    for i, (name, _) in enumerate(SESSION_BREAKDOWNS, start=offset):
        found[name] = _tally([s[4][i] for s in ordered], owners, "sessions")
    return found
