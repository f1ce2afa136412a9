"""The web analytics view: PostHog's Web Analytics overview, chart and breakdowns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from posthog_web.inbox.analytics import RANGES, web_analytics
from posthog_web.inbox.ui.html import esc, line_chart, link, seconds, table
from posthog_web.inbox.ui.registry import View, ViewContext, register

WINDOW_STEP = dt.timedelta(seconds=10)
_TITLES = {
    "pages": "Top pages",
    "entry_pages": "Entry pages",
    "exit_pages": "Exit pages",
    "referring_domains": "Referring domains",
    "utm_sources": "UTM sources",
    "utm_campaigns": "UTM campaigns",
    "browsers": "Browsers",
    "operating_systems": "Operating systems",
    "device_types": "Device types",
    "countries": "Countries",
}


def figures(ctx: ViewContext) -> dict[str, Any]:
    """The figures for ``range`` (hour, day or all; day by default)."""
    snapshot = ctx.data.snapshot()
    range_name = ctx.query.get("range") or "day"
    if range_name not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, not {range_name!r}")
    # The figures are computed once per set of stored events and, for the sliding ranges, per
    # WINDOW_STEP: the range ends at the next step, so the newest events are always in it.
    now = ctx.now
    if RANGES[range_name] is not None:
        step = WINDOW_STEP.total_seconds()
        now = dt.datetime.fromtimestamp((now.timestamp() // step + 1) * step, dt.timezone.utc)
    key = ("analytics", range_name, None if RANGES[range_name] is None else now)
    found = snapshot.memo(
        key,
        lambda: web_analytics(
            snapshot.timed, now=now, range_name=range_name, person_of=snapshot.person_of
        ),
    )
    return found if key[2] is not None else {**found, "end": ctx.now.isoformat()}


def render(ctx: ViewContext, found: dict[str, Any]) -> str:
    """Tiles, the chart and one table per breakdown."""
    ranges = " · ".join(
        f"<b>{esc(name)}</b>" if name == found["range"] else link("/analytics", name, range=name)
        for name in RANGES
    )
    tiles = [
        ("visitors", str(found["visitors"])),
        ("page views", str(found["page_views"])),
        ("sessions", str(found["sessions"])),
        ("session duration", seconds(found["session_duration"])),
        ("bounce rate", f"{found['bounce_rate'] * 100:.0f}%"),
    ]
    tile_html = "".join(
        f'<div class="tile" data-figure="{esc(name)}">{esc(name)}<b>{esc(value)}</b></div>'
        for name, value in tiles
    )
    chart = line_chart(found["series"], (("page_views", "#1570ef"), ("visitors", "#f79009")))
    tables = []
    for name, title in _TITLES.items():
        rows = found["breakdowns"][name]
        count = "sessions" if rows and "sessions" in rows[0] else "views"
        cells = [(esc(r["value"]), str(r["visitors"]), str(r[count])) for r in rows]
        tables.append(
            f'<section data-breakdown="{name}"><h2>{esc(title)}</h2>'
            f"{table((title.split()[-1].rstrip('s'), 'visitors', count), cells)}</section>"
        )
    return (
        f"<p>Range: {ranges}. From {esc(found['start'] or 'the first event')} to "
        f"{esc(found['end'])}. Definitions: docs/inbox.md.</p>"
        f'<div class="tiles">{tile_html}</div><h2>Page views and visitors</h2>{chart}'
        f'<div class="grid">{"".join(tables)}</div>'
    )


VIEW = register(View("analytics", "Web analytics", figures, render, order=10))
