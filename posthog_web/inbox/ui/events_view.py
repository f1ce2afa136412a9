"""The events view: the latest events, newest first, filtered and live; one event's page."""

from __future__ import annotations

from typing import Any

from posthog_web.inbox.analytics import pathname
from posthog_web.inbox.page import mask_key, masked_event
from posthog_web.inbox.store import StoredEvent
from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.html import esc, href, link, pretty_json, table
from posthog_web.inbox.ui.labels import label
from posthog_web.inbox.ui.registry import View, ViewContext, register

LIMIT = 200
FILTERS = ("event", "distinct_id", "person", "session", "path", "property")


def source(properties: dict[str, Any]) -> str:
    """``browser`` for posthog-js (``$lib`` web), else ``server`` (with the library's name)."""
    lib = properties.get("$lib")
    return "browser" if lib in ("web", "js") else f"server ({lib or 'no $lib'})"


def summary(row: StoredEvent, snapshot: Snapshot) -> dict[str, Any]:
    """What a list shows of one stored event."""
    data = row.data
    properties = data.get("properties") or {}
    session = properties.get("$session_id")
    return {
        "id": row.id,
        "received_at": row.received_at,
        "timestamp": data.get("timestamp"),
        "event": data["event"],
        "distinct_id": data["distinct_id"],
        "person": snapshot.person_key(data["distinct_id"]),
        "session_id": session if isinstance(session, str) else None,
        "pathname": pathname(properties),
        "source": source(properties),
    }


def _matches(row: StoredEvent, query: dict[str, str], snapshot: Snapshot, ids: set[str]) -> bool:
    data = row.data
    properties = data.get("properties") or {}
    if query.get("event") and data["event"] != query["event"]:
        return False
    if query.get("distinct_id") and data["distinct_id"] != query["distinct_id"]:
        return False
    if query.get("person") and data["distinct_id"] not in ids:
        return False
    if query.get("session") and properties.get("$session_id") != query["session"]:
        return False
    if query.get("path") and pathname(properties) != query["path"]:
        return False
    wanted = query.get("property")
    if wanted:
        name, has_value, value = wanted.partition("=")
        if name not in properties:
            return False
        if has_value and str(properties[name]) != value:
            return False
    return True


def figures(ctx: ViewContext) -> dict[str, Any]:
    """The latest matching events (``after``: only rows after that id), newest first."""
    query = ctx.query
    after, limit = query.get("after") or "0", query.get("limit") or str(LIMIT)
    if not after.isdecimal() or not limit.isdecimal():
        raise ValueError("after and limit must be non-negative integers")
    snapshot = ctx.data.snapshot()
    ids: set[str] = set()
    if query.get("person"):
        key = snapshot.person_key(query["person"])
        ids = {i for i, k in snapshot.person_of.items() if k == key} | {query["person"]}
    found: list[dict[str, Any]] = []
    for row in reversed(snapshot.rows):
        if row.id <= int(after) or len(found) >= int(limit):
            break
        if _matches(row, query, snapshot, ids):
            found.append(summary(row, snapshot))
    return {"total": len(snapshot.rows), "events": found}


def row_html(event: dict[str, Any], data: dict[str, Any]) -> str:
    """One events-table row (the live script adds these)."""
    session = event["session_id"]
    return (
        f'<tr data-id="{event["id"]}"><td>{link("/event", event["id"], id=event["id"])}</td>'
        f"<td>{esc(event['timestamp'] or event['received_at'])}</td>"
        f'<td><a href="{href("/", event=event["event"])}">{esc(event["event"])}</a></td>'
        f'<td><a href="{href("/", distinct_id=event["distinct_id"])}">'
        f"{esc(event['distinct_id'])}</a> {link('/person', '(person)', id=event['person'])}</td>"
        f"<td>{link('/session', session[:13] + '…', id=session) if session else ''}</td>"
        f"<td>{link('/', event['pathname'], path=event['pathname']) if event['pathname'] else ''}"
        f"</td><td>{esc(event['source'])}</td>"
        f"<td><details><summary>JSON</summary><pre>{pretty_json(masked_event(data))}</pre>"
        "</details></td></tr>"
    )


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The filter form and the live table (only new rows when asked for a fragment)."""
    snapshot = ctx.data.snapshot()
    rows = "".join(row_html(e, snapshot.row(e["id"]).data) for e in found["events"])
    if ctx.query.get("fragment"):
        return rows
    fields = "".join(
        f'<label>{esc(name.replace("_", " "))} <input name="{name}" '
        f'value="{esc(ctx.query.get(name, ""))}"></label> '
        for name in FILTERS
    )
    form = (
        f'<form method="get" action="/">{fields}<button>filter</button> <a href="/">clear</a> '
        '<label><input type="checkbox" id="pause"> pause live updates</label></form>'
        f'<p><span id="live-count">{len(found["events"])}</span> shown, '
        f"{found['total']} stored. property filter: <code>name</code> or "
        "<code>name=value</code>.</p>"
    )
    if not rows:
        rows_html = '<tbody></tbody></table><p class="muted">No events yet.</p>'
    else:
        rows_html = f"<tbody>{rows}</tbody></table>"
    live = href("/", fragment=1, **{k: ctx.query.get(k) for k in FILTERS})
    head = "".join(
        f"<th>{h}</th>"
        for h in ("id", "time", "event", "distinct id", "session", "path", "source", "event JSON")
    )
    return f'{form}<table id="events" data-live="{live}"><thead><tr>{head}</tr></thead>{rows_html}'


def event_figures(ctx: ViewContext) -> dict[str, Any]:
    """One stored event (``id``) with its person and session."""
    raw = ctx.query.get("id", "")
    if not raw.isdecimal():
        raise ValueError("id must be a stored event's id")
    snapshot = ctx.data.snapshot()
    row = snapshot.row(int(raw))
    return {**summary(row, snapshot), "data": row.data}


def event_render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The event's properties as a table ($ properties labelled), its links and raw JSON."""
    data = masked_event(found["data"])
    properties = data.get("properties") or {}
    rows = []
    for name in sorted(properties, key=lambda n: (n.startswith("$"), n)):
        value = properties[name]
        shown = esc(value) if isinstance(value, str) else f"<pre>{pretty_json(value)}</pre>"
        rows.append((f"<code>{esc(name)}</code>", esc(label(name) or ""), shown))
    session = found["session_id"]
    facts = table(
        ("", ""),
        [
            ("event", esc(found["event"])),
            ("distinct id", esc(found["distinct_id"])),
            ("person", link("/person", found["person"], id=found["person"])),
            ("session", link("/session", session, id=session) if session else "none"),
            ("timestamp", esc(found["timestamp"])),
            ("received", esc(found["received_at"])),
            ("uuid", esc(data.get("uuid"))),
            ("API key", f"<code>{esc(mask_key(str(found['data'].get('api_key', ''))))}</code>"),
            ("source", esc(found["source"])),
        ],
    )
    return (
        f"{facts}<h2>Properties</h2>{table(('name', 'PostHog label', 'value'), rows)}"
        f"<h2>Raw JSON</h2><pre id=raw>{pretty_json(data)}</pre>"
    )


VIEW = register(View("events", "Events", figures, render, path="/", order=20))
EVENT_VIEW = register(View("event", "Event", event_figures, event_render, nav=False))
