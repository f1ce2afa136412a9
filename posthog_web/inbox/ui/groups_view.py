"""The groups view: each group (type and key) the stored events name in ``$groups`` or
``$groupidentify``, with its properties, its persons and its events (docs/groups.md).

Like PostHog, a group's properties are the shallow merge of its ``$group_set``s in time
order, and only personful events count a person in; personless events are counted apart.
"""

from __future__ import annotations

from typing import Any

from posthog_web.inbox.ui.data import Snapshot
from posthog_web.inbox.ui.html import esc, link, pretty_json, table
from posthog_web.inbox.ui.registry import View, ViewContext, register

MAX_GROUP_TYPES = 5
RECENT = 50


def _collect(snapshot: Snapshot) -> dict[tuple[str, str], dict[str, Any]]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}

    def entry(kind: str, key: str, when: str) -> dict[str, Any]:
        found = groups.get((kind, key))
        if found is None:
            found = groups[(kind, key)] = {
                "type": kind,
                "key": key,
                "properties": {},
                "events": 0,
                "personless_events": 0,
                "persons": set(),
                "first_seen": when,
                "last_seen": when,
                "recent": [],
            }
        found["first_seen"] = min(found["first_seen"], when)
        found["last_seen"] = max(found["last_seen"], when)
        return found

    for row in sorted(snapshot.rows, key=lambda r: (str(r.data.get("timestamp")), r.id)):
        event = row.data
        props = event.get("properties") or {}
        when = str(event.get("timestamp") or row.received_at)
        if event.get("event") == "$groupidentify":
            kind, key = props.get("$group_type"), props.get("$group_key")
            if isinstance(kind, str) and isinstance(key, str):
                found = entry(kind, key, when)
                if isinstance(props.get("$group_set"), dict):
                    found["properties"].update(props["$group_set"])
            continue
        named = props.get("$groups")
        if not isinstance(named, dict):
            continue
        for kind, key in named.items():
            found = entry(str(kind), str(key), when)
            found["events"] += 1
            found["recent"] = [*found["recent"][-(RECENT - 1) :], row.id]
            if props.get("$process_person_profile") is False:
                found["personless_events"] += 1
            else:
                found["persons"].add(snapshot.person_key(str(event.get("distinct_id"))))
    return groups


def _public(found: dict[str, Any]) -> dict[str, Any]:
    return {**found, "persons": sorted(found["persons"]), "recent": found["recent"][::-1]}


def figures(ctx: ViewContext) -> dict[str, Any]:
    """Every group: type, key, properties, event counts, persons, first and last seen."""
    snapshot = ctx.data.snapshot()

    def compute() -> dict[str, Any]:
        groups = [_public(g) for _, g in sorted(_collect(snapshot).items())]
        types = sorted({g["type"] for g in groups})
        return {"types": types, "too_many_types": len(types) > MAX_GROUP_TYPES, "groups": groups}

    return snapshot.memo("groups", compute)


def group_figures(ctx: ViewContext) -> dict[str, Any]:
    """One group (``?type=&key=``); LookupError when no stored event names it."""
    kind, key = ctx.query.get("type"), ctx.query.get("key")
    if not kind or not key:
        raise ValueError("type and key are required")
    groups: list[dict[str, Any]] = figures(ctx)["groups"]
    for group in groups:
        if group["type"] == kind and group["key"] == key:
            return group
    raise LookupError(f"no stored event names the group {kind}/{key}")


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """A table of the groups."""
    head = ""
    if found["too_many_types"]:
        head = (
            f'<p class="flag">{len(found["types"])} group types: PostHog keeps '
            f"{MAX_GROUP_TYPES} per project and drops the others from events.</p>"
        )
    rows = [
        (
            esc(g["type"]),
            link("/group", g["key"], type=g["type"], key=g["key"]),
            str(g["events"]),
            str(len(g["persons"])),
            str(g["personless_events"]),
            esc(g["last_seen"]),
        )
        for g in found["groups"]
    ]
    headers = ("type", "key", "events", "persons", "personless events", "last seen")
    return head + table(headers, rows, "No groups yet: send events with $groups.")


def group_render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """The group's properties, persons and latest events."""
    persons = [(link("/person", p, id=p),) for p in found["persons"]]
    recent = [(link("/event", f"event {i}", id=i),) for i in found["recent"]]
    return (
        f"<h2>{esc(found['type'])}: {esc(found['key'])}</h2>"
        f"<pre>{pretty_json(found['properties'])}</pre>"
        + table(("persons",), persons, "No person (only personless events).")
        + table(("latest events",), recent, "No events.")
    )


VIEW = register(View("groups", "Groups", figures, render, order=45))
GROUP_VIEW = register(View("group", "Group", group_figures, group_render, nav=False))
