"""The persons view: PostHog's merge view as a list, and one person's timeline across ids."""

from __future__ import annotations

from collections import Counter
from typing import Any

from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.events_view import summary
from posthog_web.inbox.ui.html import esc, link, pretty_json, table
from posthog_web.inbox.ui.registry import View, ViewContext, register

TIMELINE_LIMIT = 500
#: The page lists the newest persons only (the JSON has them all).
SHOWN = 500


def _seen(snapshot: Snapshot) -> dict[str, tuple[str, str, int]]:
    first: dict[str, str] = {}
    last: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for timed in snapshot.timed:
        key, when = snapshot.person_key(timed.person), timed.time.isoformat()
        first.setdefault(key, when)
        last[key] = when
        counts[key] += 1
    return {key: (first[key], last[key], counts[key]) for key in counts}


def figures(ctx: ViewContext) -> dict[str, Any]:
    """Every person: ids, identified or not, first/last seen, event count, merges; refusals."""
    snapshot = ctx.data.snapshot()
    return snapshot.memo("persons", lambda: _persons(snapshot))


def _persons(snapshot: Snapshot) -> dict[str, Any]:
    seen = _seen(snapshot)
    persons = []
    for person in snapshot.persons:
        key = person["distinct_ids"][0]
        first, last, count = seen.get(key, (None, None, 0))
        persons.append(
            {
                "key": key,
                **person,
                "first_seen": first,
                "last_seen": last,
                "event_count": count,
            }
        )
    return {"persons": persons, "refusals": snapshot.refusals}


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The persons table and the refused merges."""
    rows = []
    for p in found["persons"][-SHOWN:][::-1]:
        merges = "<br>".join(
            f"{esc(', '.join(m['distinct_ids']))} by {esc(m['event'])}" for m in p["merges"]
        )
        rows.append(
            (
                link("/person", p["key"], id=p["key"]),
                "identified" if p["is_identified"] else "anonymous",
                esc(p["first_seen"]),
                esc(p["last_seen"]),
                str(p["event_count"]),
                "<br>".join(esc(i) for i in p["distinct_ids"]),
                merges,
            )
        )
    refusals = [
        (
            esc(r["uuid"]),
            esc(r["event"]),
            esc(r["distinct_id"]),
            esc(r["other_distinct_id"]),
            f'<span class="flag">{esc(r["reason"])}</span>',
        )
        for r in found["refusals"]
    ]
    more = len(found["persons"]) - SHOWN
    note = f'<p class="muted">The newest {SHOWN} of {len(found["persons"])} persons.</p>'
    return (
        (note if more > 0 else "")
        + table(
            ("person", "kind", "first seen", "last seen", "events", "distinct ids", "merged"),
            rows,
            "No persons yet.",
        )
        + "<h2>Refused merges and dropped person events</h2>"
        + table(("uuid", "event", "distinct id", "other id", "reason"), refusals)
    )


def person_figures(ctx: ViewContext) -> dict[str, Any]:
    """One person (``id``: any of its distinct ids) with its timeline across merged ids."""
    wanted = ctx.query.get("id", "")
    snapshot = ctx.data.snapshot()
    key = snapshot.person_key(wanted)
    person = next((p for p in snapshot.persons if p["distinct_ids"][0] == key), None)
    ids = set(person["distinct_ids"]) if person else {wanted}
    merges = person["merges"] if person else []
    # A merge is found by uuid and event name: uuids are not always unique.
    merge_uuids = {(m["uuid"], m["event"]): m for m in merges if m["uuid"]}
    timeline = []
    for row in snapshot.rows:
        if row.data["distinct_id"] not in ids:
            continue
        event = summary(row, snapshot)
        merge = merge_uuids.get((row.data.get("uuid"), row.data["event"]))
        event["merged_ids"] = merge["distinct_ids"] if merge else None
        timeline.append(event)
    if not timeline and person is None:
        raise LookupError(f"no events for distinct id {wanted!r}")
    return {
        "key": key,
        "person": person,
        "event_count": len(timeline),
        "timeline": timeline[-TIMELINE_LIMIT:],
    }


def person_render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """Facts, properties and the timeline with its merge points marked."""
    person = found["person"] or {"distinct_ids": [found["key"]], "is_identified": False}
    properties = person.get("properties") or {}
    props = [
        (f"<code>{esc(k)}</code>", f"<pre>{pretty_json(v)}</pre>") for k, v in properties.items()
    ]
    rows = []
    for e in reversed(found["timeline"]):
        merged = e["merged_ids"]
        marker = f"merge point: {esc(', '.join(merged))} joined" if merged else ""
        css = ' class="merge"' if merged else ""
        rows.append(
            f'<tr{css} data-id="{e["id"]}"><td>{link("/event", e["id"], id=e["id"])}</td>'
            f"<td>{esc(e['timestamp'] or e['received_at'])}</td><td>{esc(e['event'])}</td>"
            f"<td>{esc(e['distinct_id'])}</td><td>{esc(e['pathname'])}</td>"
            f"<td>{esc(e['source'])}</td><td>{marker}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("id", "time", "event", "distinct id", "path", "source", "merge")
    )
    kind = "identified" if person["is_identified"] else "anonymous or personless"
    return (
        f"<p>{esc(kind)}; distinct ids: {esc(', '.join(person['distinct_ids']))}; "
        f"{found['event_count']} events (newest first, at most {TIMELINE_LIMIT}).</p>"
        f"<h2>Properties</h2>{table(('name', 'value'), props)}<h2>Timeline</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


VIEW = register(View("persons", "Persons", figures, render, order=30))
PERSON_VIEW = register(View("person", "Person", person_figures, person_render, nav=False))
