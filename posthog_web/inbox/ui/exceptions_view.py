"""The exceptions view: ``$exception`` events grouped by the fingerprint the inbox computed the
way PostHog's cymbal does (inbox/exceptions.py), with the latest stack trace of each group."""

from __future__ import annotations

from typing import Any

from posthog_web.inbox.exceptions import EXCEPTION_EVENT
from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.html import esc, link, table
from posthog_web.inbox.ui.registry import View, ViewContext, register


def _frames(properties: dict[str, Any]) -> list[dict[str, Any]]:
    frames = []
    for exception in properties.get("$exception_list") or []:
        stack = exception.get("stacktrace") if isinstance(exception, dict) else None
        for frame in (stack or {}).get("frames") or []:
            if isinstance(frame, dict):
                frames.append(
                    {
                        "exception": exception.get("type"),
                        "filename": frame.get("filename"),
                        "lineno": frame.get("lineno"),
                        "function": frame.get("function"),
                        "in_app": frame.get("in_app"),
                        "context_line": frame.get("context_line"),
                    }
                )
    return frames


def figures(ctx: ViewContext) -> dict[str, Any]:
    """Groups by ``$exception_fingerprint``, most events first; unparsed events apart."""
    snapshot = ctx.data.snapshot()
    return snapshot.memo("exceptions", lambda: _groups(snapshot))


def _groups(snapshot: Snapshot) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    unparsed = []
    for row in snapshot.rows:
        if row.data["event"] != EXCEPTION_EVENT:
            continue
        properties = row.data.get("properties") or {}
        fingerprint = properties.get("$exception_fingerprint")
        if not isinstance(fingerprint, str):
            unparsed.append({"id": row.id, "errors": properties.get("$cymbal_errors") or []})
            continue
        group = groups.setdefault(
            fingerprint,
            {"fingerprint": fingerprint, "count": 0, "first_seen": row.received_at, "persons": []},
        )
        person = snapshot.person_key(row.data["distinct_id"])
        if person not in group["persons"]:
            group["persons"].append(person)
        group.update(
            count=group["count"] + 1,
            last_seen=row.received_at,
            latest_id=row.id,
            types=properties.get("$exception_types") or [],
            values=properties.get("$exception_values") or [],
            handled=properties.get("$exception_handled"),
            frames=_frames(properties),
        )
    ranked = sorted(groups.values(), key=lambda g: (-g["count"], g["first_seen"]))
    return {"groups": ranked, "unparsed": unparsed}


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """One section per group with its latest stack trace."""
    sections = []
    for group in found["groups"]:
        frames = [
            (
                esc(f["exception"]),
                esc(f"{f['filename']}:{f['lineno']}"),
                esc(f["function"]),
                "in app" if f["in_app"] is not False else "library",
                f"<code>{esc(f['context_line'])}</code>",
            )
            for f in group["frames"]
        ]
        title = ": ".join(
            str(x) for x in [", ".join(group["types"]), (group["values"] or [""])[0]] if x
        )
        sections.append(
            f'<section data-fingerprint="{esc(group["fingerprint"])}"><h2>{esc(title)}</h2>'
            f"<p>{group['count']} events, {len(group['persons'])} persons, first "
            f"{esc(group['first_seen'])}, last {esc(group['last_seen'])}; "
            f"{'handled' if group['handled'] else 'unhandled'}; fingerprint "
            f"<code>{esc(group['fingerprint'][:16])}…</code>; latest "
            f"{link('/event', 'event ' + str(group['latest_id']), id=group['latest_id'])}, "
            f"{link('/', 'all its events', event=EXCEPTION_EVENT)}</p>"
            f"{table(('exception', 'file:line', 'function', 'frame', 'code'), frames, 'No stack.')}"
            "</section>"
        )
    unparsed = [
        (link("/event", u["id"], id=u["id"]), esc("; ".join(map(str, u["errors"]))))
        for u in found["unparsed"]
    ]
    body = "".join(sections) or '<p class="muted">No exceptions yet.</p>'
    if unparsed:
        body += "<h2>Not parsed by error tracking</h2>" + table(("event", "why"), unparsed)
    return body


VIEW = register(View("exceptions", "Exceptions", figures, render, order=50))
