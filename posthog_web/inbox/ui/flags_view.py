"""The flags view: the flags the inbox serves (``--flags``) and the ``$feature_flag_called``
exposures it stored, per flag and per value (variant), with the persons exposed."""

from __future__ import annotations

from typing import Any

from posthog_web.inbox.flags import FLAG_CALLED
from posthog_web.inbox.ui.html import esc, link, pretty_json, table
from posthog_web.inbox.ui.registry import View, ViewContext, register


def figures(ctx: ViewContext) -> dict[str, Any]:
    """``/api/flags``'s summary: each definition with its exposures counted per value."""
    if ctx.flags is None:
        return {"etag": None, "source": None, "error": None, "flags": []}
    snapshot = ctx.data.snapshot()
    exposures = [row.data for row in snapshot.rows if row.data["event"] == FLAG_CALLED]
    return ctx.flags.summary(exposures)


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """A table of flags, then each flag's exposures per value and its definition."""
    head = []
    if found["error"]:
        head.append(f'<p class="flag">The flags file has an error: {esc(found["error"])}</p>')
    if found["source"]:
        head.append(f"<p>Served from <code>{esc(found['source'])}</code>.</p>")
    rows = [
        (
            f'<a href="#flag-{esc(flag["key"])}">{esc(flag["key"])}</a>',
            "yes" if flag["defined"] else "no (not in the flags file)",
            str(flag["exposures"]),
            str(flag["persons"]),
        )
        for flag in found["flags"]
    ]
    sections = []
    for flag in found["flags"]:
        values = sorted(flag["by_value"].items(), key=lambda kv: (-kv[1], kv[0]))
        by_value = [
            (esc(value), str(count), link("/", "events", event=FLAG_CALLED))
            for value, count in values
        ]
        definition = flag["definition"]
        sections.append(
            f'<section id="flag-{esc(flag["key"])}"><h2>{esc(flag["key"])}</h2>'
            f"{table(('value', 'exposures', ''), by_value, 'No exposures yet.')}"
            + (
                f"<details><summary>Definition</summary><pre>{pretty_json(definition)}</pre></details>"
                if definition is not None
                else ""
            )
            + "</section>"
        )
    empty = "No flags: start the inbox with <code>--flags flags.json</code> (docs/inbox.md)."
    return (
        "".join(head)
        + table(("flag", "defined", "exposures", "persons"), rows, empty)
        + "".join(sections)
    )


# Its page is /feature_flags: /flags is PostHog's evaluation endpoint (posthog-js calls it).
VIEW = register(View("flags", "Flags", figures, render, path="/feature_flags", order=55))
