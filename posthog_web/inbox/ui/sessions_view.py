"""The sessions view: every ``$session_id`` with its start, duration and entry page, and one
session's timeline telling browser and server events apart."""

from __future__ import annotations

from typing import Any

from posthog_web.inbox.analytics import pathname
from posthog_web.inbox.sessions import PAGE_EVENTS, is_uuid7
from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.events_view import summary
from posthog_web.inbox.ui.html import esc, link, seconds, table
from posthog_web.inbox.ui.registry import View, ViewContext, register

#: The page lists the newest sessions only (the JSON has them all).
SHOWN = 500


def figures(ctx: ViewContext) -> dict[str, Any]:
    """Sessions in order of their first event; page views without a ``$session_id`` counted."""
    snapshot = ctx.data.snapshot()
    return snapshot.memo("sessions", lambda: _sessions(snapshot))


def _sessions(snapshot: Snapshot) -> dict[str, Any]:
    sessions: dict[str, dict[str, Any]] = {}
    without = 0
    for timed in snapshot.timed:
        event = timed.event
        properties = event.get("properties") or {}
        session_id = properties.get("$session_id")
        is_page = event["event"] in PAGE_EVENTS
        if not isinstance(session_id, str) or not session_id:
            without += is_page
            continue
        found = sessions.get(session_id)
        if found is None:
            found = sessions[session_id] = {
                "session_id": session_id,
                "valid_uuid7": is_uuid7(session_id),
                "start": timed.time,
                "end": timed.time,
                "entry_page": None,
                "page_views": 0,
                "events": 0,
                "person": snapshot.person_key(timed.person),
                "sources": [],
            }
        found["start"], found["end"] = (
            min(found["start"], timed.time),
            max(found["end"], timed.time),
        )
        found["events"] += 1
        kind = "browser" if properties.get("$lib") in ("web", "js") else "server"
        if kind not in found["sources"]:
            found["sources"].append(kind)
        if is_page:
            found["page_views"] += 1
            if found["entry_page"] is None:
                found["entry_page"] = pathname(properties)
    listed = [
        {
            **s,
            "start": s["start"].isoformat(),
            "end": s["end"].isoformat(),
            "duration": (s["end"] - s["start"]).total_seconds(),
        }
        for s in sessions.values()
    ]
    return {"sessions": listed, "page_views_without_session_id": without}


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The sessions table, newest first."""
    rows = [
        (
            link("/session", s["session_id"], id=s["session_id"]),
            '<span class="ok">UUIDv7</span>'
            if s["valid_uuid7"]
            else '<span class="flag">not a UUIDv7: ignored by web analytics</span>',
            esc(s["start"]),
            seconds(s["duration"]),
            esc(s["entry_page"]),
            str(s["page_views"]),
            str(s["events"]),
            link("/person", s["person"], id=s["person"]),
            esc(" + ".join(s["sources"])),
        )
        for s in found["sessions"][-SHOWN:][::-1]
    ]
    missing = found["page_views_without_session_id"]
    note = (
        f'<p class="flag">{missing} page views have no $session_id: web analytics has no '
        "session for them.</p>"
        if missing
        else ""
    )
    headers = (
        "session id", "check", "start", "duration", "entry page", "page views", "events",
        "person", "sources",
    )  # fmt: skip
    if len(found["sessions"]) > SHOWN:
        note += f'<p class="muted">The newest {SHOWN} of {len(found["sessions"])} sessions.</p>'
    return note + table(headers, rows, "No sessions yet.")


def session_figures(ctx: ViewContext) -> dict[str, Any]:
    """One session's events in order (``id``: the ``$session_id``)."""
    wanted = ctx.query.get("id", "")
    snapshot = ctx.data.snapshot()
    events = [
        summary(row, snapshot)
        for row in snapshot.rows
        if (row.data.get("properties") or {}).get("$session_id") == wanted
    ]
    if not events:
        raise LookupError(f"no events with $session_id {wanted!r}")
    return {"session_id": wanted, "valid_uuid7": is_uuid7(wanted), "timeline": events}


def session_render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The timeline: page views, custom events and exceptions, browser or server."""
    rows = [
        f'<tr data-id="{e["id"]}"><td>{link("/event", e["id"], id=e["id"])}</td>'
        f"<td>{esc(e['timestamp'] or e['received_at'])}</td>"
        f'<td class="{"browser" if e["source"] == "browser" else "server"}">{esc(e["source"])}</td>'
        f"<td>{esc(e['event'])}</td><td>{esc(e['pathname'])}</td>"
        f"<td>{link('/person', e['person'], id=e['person'])}</td></tr>"
        for e in found["timeline"]
    ]
    head = "".join(f"<th>{h}</th>" for h in ("id", "time", "source", "event", "path", "person"))
    check = (
        "" if found["valid_uuid7"] else '<p class="flag">not a UUIDv7: web analytics ignores it</p>'
    )
    return (
        f"{check}<p>{len(rows)} events in order; browser events are posthog-js (<code>$lib</code> "
        f"web), the rest server-side.</p><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


VIEW = register(View("sessions", "Sessions", figures, render, order=40))
SESSION_VIEW = register(View("session", "Session", session_figures, session_render, nav=False))
