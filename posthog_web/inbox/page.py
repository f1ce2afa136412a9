"""Server-rendered HTML for the inbox: events, persons and sessions. Events are untrusted input,
so every value goes through ``html.escape``; API keys are shown only masked."""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import Any
from urllib.parse import urlencode

from posthog_web.inbox.store import StoredEvent

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1f24;background:#f6f6f3}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1em;background:#1d1f24;color:#fff}
header a{color:#f9bd2b;text-decoration:none}main{padding:1em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
pre{white-space:pre-wrap;word-break:break-all;margin:.3em 0;font-size:12px}
.flag{color:#b42318;font-weight:600}.ok{color:#067647}code{font-size:12px}
form{margin-bottom:1em}
"""

# Reload every 2 s unless paused, a <details> is open, or a filter field has focus.
_REFRESH = """
setInterval(function () {
  var p = document.getElementById("pause"), a = document.activeElement;
  if ((p && p.checked) || document.querySelector("details[open]")) return;
  if (a && a.tagName === "INPUT" && a.type !== "checkbox") return;
  location.reload();
}, 2000);
"""


def mask_key(key: str) -> str:
    """A short masked form of an API key, e.g. ``phc_…ab12``."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 10 else "…"


def _masked(value: Any, key: str, masked: str) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, key, masked) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key, masked) for v in value]
    return masked if value == key and isinstance(value, str) else value


def _json(value: Any) -> str:
    return escape(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


def _layout(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · posthog-web inbox</title><style>{_STYLE}</style></head><body>"
        '<header><strong>posthog-web inbox</strong><nav><a href="/">Events</a> · '
        '<a href="/persons">Persons</a> · <a href="/sessions">Sessions</a></nav>'
        '<label><input type="checkbox" id="pause"> pause refresh</label></header>'
        f"<main><h1>{escape(title)}</h1>{body}</main><script>{_REFRESH}</script></body></html>"
    )


def _filter_link(name: str, value: str) -> str:
    href = escape("/?" + urlencode({name: value}))
    return f'<a href="{href}">{escape(value)}</a>'


def render_events(
    rows: Iterable[StoredEvent], *, event: str | None, distinct_id: str | None, total: int
) -> str:
    """The events page: the latest events, newest first, each with its full JSON."""
    shown = list(rows)
    form = (
        '<form method="get" action="/">'
        f'<label>event <input name="event" value="{escape(event or "")}"></label> '
        '<label>distinct id <input name="distinct_id" '
        f'value="{escape(distinct_id or "")}"></label> '
        '<button>filter</button> <a href="/">clear</a></form>'
        f"<p>{len(shown)} shown, {total} stored.</p>"
    )
    lines = []
    for row in reversed(shown):
        data = row.data
        key = str(data.get("api_key", ""))
        shown_data = _masked(data, key, mask_key(key)) if key else data
        lines.append(
            "<tr>"
            f"<td>{escape(row.received_at)}</td>"
            f"<td>{_filter_link('event', data['event'])}</td>"
            f"<td>{_filter_link('distinct_id', data['distinct_id'])}</td>"
            f"<td>{escape(str(data.get('timestamp') or ''))}</td>"
            f"<td><code>{escape(mask_key(key))}</code></td>"
            f"<td><details><summary>JSON</summary><pre>{_json(shown_data)}</pre></details></td>"
            "</tr>"
        )
    table = (
        "<table><tr><th>received</th><th>event</th><th>distinct id</th><th>timestamp</th>"
        f"<th>key</th><th>event JSON</th></tr>{''.join(lines)}</table>"
    )
    return _layout("Events", form + (table if lines else "<p>No events yet.</p>"))


def render_persons(persons: list[dict[str, Any]], refusals: list[dict[str, Any]]) -> str:
    """The persons page: PostHog's merge view and the refused merges with their reasons."""
    person_rows = "".join(
        "<tr>"
        f"<td>{'<br>'.join(escape(i) for i in p['distinct_ids'])}</td>"
        f"<td>{'yes' if p['is_identified'] else 'no'}</td>"
        f"<td><pre>{_json(p['properties'])}</pre></td>"
        "</tr>"
        for p in persons
    )
    refusal_rows = "".join(
        "<tr>"
        f"<td>{escape(str(r['uuid']))}</td><td>{escape(r['event'])}</td>"
        f"<td>{escape(r['distinct_id'])}</td><td>{escape(str(r['other_distinct_id']))}</td>"
        f'<td class="flag">{escape(r["reason"])}</td>'
        "</tr>"
        for r in refusals
    )
    body = (
        "<table><tr><th>distinct ids</th><th>identified</th><th>properties</th></tr>"
        f"{person_rows}</table><h2>Refused merges and dropped person events</h2>"
        "<table><tr><th>uuid</th><th>event</th><th>distinct id</th><th>other id</th>"
        f"<th>reason</th></tr>{refusal_rows}</table>"
    )
    return _layout("Persons", body)


def render_sessions(sessions: list[dict[str, Any]]) -> str:
    """The sessions page: page views per ``$session_id``, flagged when not a UUIDv7."""
    rows = []
    for s in sessions:
        if s["session_id"] is None:
            sid, flag = "(none)", '<span class="flag">no $session_id</span>'
        else:
            sid = s["session_id"]
            flag = (
                '<span class="ok">UUIDv7</span>'
                if s["valid_uuid7"]
                else '<span class="flag">not a UUIDv7: ignored by web analytics</span>'
            )
        rows.append(
            "<tr>"
            f"<td><code>{escape(sid)}</code></td><td>{flag}</td><td>{s['pageviews']}</td>"
            f"<td>{'<br>'.join(escape(i) for i in s['distinct_ids'])}</td>"
            f"<td>{escape(str(s['first_timestamp']))}<br>{escape(str(s['last_timestamp']))}</td>"
            f"<td>{escape(str(s['entry_url']))}<br>{escape(str(s['exit_url']))}</td>"
            "</tr>"
        )
    body = (
        "<table><tr><th>session id</th><th>check</th><th>page views</th><th>distinct ids</th>"
        f"<th>first / last</th><th>entry / exit URL</th></tr>{''.join(rows)}</table>"
    )
    return _layout("Sessions", body)
