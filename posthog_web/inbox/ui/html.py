"""HTML building blocks for the views. Events are untrusted input: every value goes through
``esc``; pages also carry a Content-Security-Policy that runs only their own nonce'd script."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1f24;background:#f6f6f3}
header{display:flex;gap:1.2em;align-items:center;padding:.6em 1em;background:#1d1f24;color:#fff;
flex-wrap:wrap}header a{color:#f9bd2b;text-decoration:none}header a.on{color:#fff}
main{padding:1em;max-width:1400px}h2{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:.8em}
th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
pre{white-space:pre-wrap;word-break:break-all;margin:.3em 0;font-size:12px;max-height:30em;
overflow:auto}code{font-size:12px}.flag{color:#b42318;font-weight:600}.ok{color:#067647}
.tiles{display:flex;gap:.8em;flex-wrap:wrap}.tile{background:#fff;padding:.6em 1em;min-width:9em;
border:1px solid #ddd}.tile b{display:block;font-size:1.6em}.grid{display:grid;
grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:0 1em}
tr.merge td{background:#fff4d6}.server{color:#6941c6}.browser{color:#1570ef}
form{margin-bottom:1em}svg{background:#fff;border:1px solid #ddd}.muted{color:#667085}
"""


def esc(value: Any) -> str:
    """``value`` as escaped text ("" for None)."""
    return "" if value is None else escape(str(value))


def href(target: str, /, **query: Any) -> str:
    """An escaped link target with the non-empty query parameters."""
    params = {k: str(v) for k, v in query.items() if v is not None and v != ""}
    return escape(target + ("?" + urlencode(params) if params else ""))


def link(target: str, text: Any, /, **query: Any) -> str:
    """An ``<a>`` to ``target`` with ``query``, its text escaped."""
    return f'<a href="{href(target, **query)}">{esc(text)}</a>'


def pretty_json(value: Any) -> str:
    """Indented, escaped JSON."""
    return escape(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "None.") -> str:
    """A table of already-escaped cells; ``empty`` (escaped here) when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def seconds(value: float) -> str:
    """A duration as ``1m 05s`` or ``4.2 s``."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m {rest:02d}s"


def line_chart(series: list[dict[str, Any]], keys: Sequence[tuple[str, str]]) -> str:
    """An inline SVG line chart of ``series`` (dicts with ``start`` and the ``keys``)."""
    width, height, pad = 720, 160, 24
    if not series:
        return '<p class="muted">No page views in this range.</p>'
    top = max([1, *(int(point[key]) for point in series for key, _ in keys)])
    step = (width - 2 * pad) / max(len(series) - 1, 1)
    parts = [
        f'<svg role="img" aria-label="page views and visitors" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f'<text x="4" y="14" font-size="11">{top}</text>',
        f'<text x="4" y="{height - 6}" font-size="11">0</text>',
    ]
    for key, colour in keys:
        points = " ".join(
            f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * point[key] / top:.1f}"
            for i, point in enumerate(series)
        )
        parts.append(
            f'<polyline data-series="{esc(key)}" fill="none" stroke="{colour}" '
            f'stroke-width="2" points="{points}"/>'
        )
    legend = " ".join(f'<tspan fill="{colour}">■ {esc(key)}</tspan>' for key, colour in keys)
    first, last = esc(series[0]["start"][:16]), esc(series[-1]["start"][:16])
    parts.append(f'<text x="{pad}" y="{height - 6}" font-size="11">{first}</text>')
    parts.append(
        f'<text x="{width - pad}" y="{height - 6}" font-size="11" text-anchor="end">{last}</text>'
    )
    parts.append(f'<text x="{width - pad}" y="14" font-size="11" text-anchor="end">{legend}</text>')
    return "".join(parts) + "</svg>"


def layout(title: str, body: str, nav: Sequence[tuple[str, str]], current: str, nonce: str) -> str:
    """The whole page: head, navigation (path, label), the body and the page's script."""
    links = " · ".join(
        f'<a href="{esc(path)}"{" class=on" if path == current else ""}>{esc(label)}</a>'
        for path, label in nav
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f'<title>{esc(title)} · posthog-web inbox</title><style nonce="{nonce}">{STYLE}</style>'
        "</head><body><header><strong>posthog-web inbox</strong>"
        f"<nav>{links}</nav></header><main><h1>{esc(title)}</h1>{body}</main>"
        f'<script nonce="{nonce}">{LIVE_SCRIPT}</script></body></html>'
    )


def content_security_policy(nonce: str) -> str:
    """The pages' policy: only their own style and script, fetches to this inbox only."""
    return (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'"
    )


# A table with data-live polls its view's fragment for rows newer than its first row's
# data-id and puts them on top: new events appear without a reload.
LIVE_SCRIPT = """
(function () {
  var live = document.querySelector("[data-live]");
  if (!live) return;
  var pause = document.getElementById("pause");
  setInterval(function () {
    if (pause && pause.checked) return;
    var body = live.querySelector("tbody"), first = body && body.querySelector("tr[data-id]");
    var url = new URL(live.getAttribute("data-live"), location.href);
    url.searchParams.set("after", first ? first.getAttribute("data-id") : "0");
    fetch(url).then(function (r) { return r.ok ? r.text() : ""; }).then(function (rows) {
      if (!rows) return;
      if (!body) { location.reload(); return; }
      body.insertAdjacentHTML("afterbegin", rows);
      var count = document.getElementById("live-count");
      if (count) count.textContent = body.querySelectorAll("tr[data-id]").length;
    }).catch(function () {});
  }, 1000);
})();
"""
