"""The inbox's page in headless Chromium: every view's figures against counts computed here
from the stored events, the live list, the filters, hostile content, and no console errors.

Screenshots of each view go to .cache/inbox-screenshots/ (printed at the end of the test).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("browser_dependencies")]

SHOTS = ROOT / ".cache" / "inbox-screenshots"
TOKEN = "phc_inbox_ui_browser_test"
TIMEOUT_MS = 15_000
# Each sets window.__pwned when it runs; nothing may run.
HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    '"><svg onload="window.__pwned=3">',
    "javascript:window.__pwned=4",
    "</textarea></pre><script>window.__pwned=5</script>",
    "\u202e\u0000\ufeffzalgo\u0301\u0301 \U0001f600 <b>bold</b>",
    "x" * 200_000,
]
PAGES = ["/", "/pricing", "/products/1", "/login", "/dashboard"]


def _uuid7(n: int) -> str:
    ms = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000) - n * 1000
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7abc-8{n:03x}-{n:012x}"


def _event(name: str, distinct_id: str, stamp: dt.datetime, **properties: Any) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "uuid": str(uuid.uuid4()),
        "timestamp": stamp.isoformat(),
        "properties": properties,
    }


def demo_like_events() -> list[dict[str, Any]]:
    """Visitors like the demo's: browser and server page views, a login, purchases, an error."""
    now = dt.datetime.now(dt.timezone.utc)
    events = []
    for n in range(1, 7):
        anon, session = f"anon-{n}", _uuid7(n)
        start = now - dt.timedelta(minutes=n * 5)
        for i in range(n % 4 + 1):
            lib = "web" if i % 2 == 0 else "posthog-python"
            path = PAGES[(n + i) % len(PAGES)]
            props = {
                "$session_id": session,
                "$current_url": f"http://shop.example{path}?utm_source=newsletter",
                "$lib": lib,
                "$browser": ("Chrome", "Firefox")[n % 2],
                "$os": "Linux",
                "$device_type": "Desktop",
                "$referring_domain": "$direct",
                "utm_source": "newsletter",
            }
            events.append(_event("$pageview", anon, start + dt.timedelta(seconds=15 * i), **props))
        if n % 2 == 0:
            stamp = start + dt.timedelta(seconds=70)
            events.append(
                _event(
                    "$identify",
                    f"user-{n}",
                    stamp,
                    **{"$anon_distinct_id": anon, "$session_id": session},
                )
            )
            events.append(
                _event(
                    "purchase_completed",
                    f"user-{n}",
                    stamp,
                    **{"$lib": "posthog-python", "$session_id": session},
                )
            )
    frame = {
        "filename": "shop/views.py",
        "lineno": 12,
        "function": "checkout",
        "platform": "python",
    }
    error = {
        "type": "ValueError",
        "value": "out of stock",
        "stacktrace": {"type": "raw", "frames": [frame]},
    }
    events.append(_event("$exception", "user-2", now, **{"$exception_list": [error]}))
    events.append(
        _event("$pageview", "no-session", now, **{"$current_url": "http://shop.example/"})
    )
    return events


def hostile_events() -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.timezone.utc)
    props = {f"p{i}": value for i, value in enumerate(HOSTILE)}
    props.update({"$browser": HOSTILE[1], "$current_url": HOSTILE[3], "$session_id": HOSTILE[0]})
    props[HOSTILE[2]] = HOSTILE[0]
    return [
        _event(HOSTILE[0], HOSTILE[1], now, **props),
        _event("$pageview", HOSTILE[4], now, **props),
        _event(
            "$exception",
            HOSTILE[2],
            now,
            **{
                "$exception_list": [
                    {
                        "type": HOSTILE[0],
                        "value": HOSTILE[1],
                        "stacktrace": {
                            "type": "raw",
                            "frames": [
                                {
                                    "filename": HOSTILE[2],
                                    "function": HOSTILE[4],
                                    "platform": "python",
                                    "context_line": HOSTILE[1],
                                }
                            ],
                        },
                    }
                ]
            },
        ),
    ]


def _send(inbox: InboxServer, events: list[dict[str, Any]]) -> None:
    body = {"api_key": TOKEN, "batch": events}
    response = requests.post(inbox.url + "/batch/", json=body, timeout=10)
    assert response.status_code == 200, response.text


def expected(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures, computed here from the stored events (not with the inbox's code)."""
    person = {
        e["properties"]["$anon_distinct_id"]: e["distinct_id"]
        for e in events
        if e["event"] == "$identify"
    }
    pages = [e for e in events if e["event"] == "$pageview"]
    valid = {
        e["properties"]["$session_id"]
        for e in pages
        if str(e["properties"].get("$session_id", ""))[14:15] == "7"
    }
    any_session = {
        e["properties"]["$session_id"]
        for e in events
        if isinstance(e["properties"].get("$session_id"), str)
    }
    return {
        "page_views": len(pages),
        "visitors": len({person.get(e["distinct_id"], e["distinct_id"]) for e in pages}),
        "sessions": len(valid),
        "all_sessions": len(any_session),
        "persons": len({person.get(e["distinct_id"], e["distinct_id"]) for e in events}),
        "purchases": sum(e["event"] == "purchase_completed" for e in events),
        "exceptions": sum(e["event"] == "$exception" for e in events),
        "no_session": sum(1 for e in pages if not e["properties"].get("$session_id")),
    }


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(chromium: Any, problems: list[str]) -> Any:
    page = chromium.new_page(viewport={"width": 1200, "height": 900})
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog {dialog.message}"), dialog.dismiss())
    )
    return page


def _shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def _tile(page: Any, name: str) -> str:
    return str(page.locator(f'[data-figure="{name}"] b').inner_text())


def test_every_view_shows_the_stored_figures(inbox: InboxServer, chromium: Any) -> None:
    _send(inbox, demo_like_events())
    stored = inbox.events()
    want = expected(stored)
    problems: list[str] = []
    page = _open(chromium, problems)

    page.goto(inbox.url + "/analytics?range=all")
    assert _tile(page, "page views") == str(want["page_views"])
    assert _tile(page, "visitors") == str(want["visitors"])
    assert _tile(page, "sessions") == str(want["sessions"])
    assert page.locator("svg polyline[data-series=page_views]").count() == 1
    top = page.locator('[data-breakdown="pages"] tbody tr')
    views = sum(int(top.nth(i).locator("td").nth(2).inner_text()) for i in range(top.count()))
    assert views == want["page_views"]
    _shot(page, "analytics")

    page.goto(inbox.url + "/")
    assert page.locator("#events tbody tr[data-id]").count() == len(stored)
    page.evaluate("window.__sameDocument = true")
    _send(inbox, [_event("arrived_live", "anon-1", dt.datetime.now(dt.timezone.utc))])
    page.wait_for_selector("#events tbody tr[data-id] >> text=arrived_live")
    assert page.evaluate("window.__sameDocument") is True  # no reload
    assert page.locator("#live-count").inner_text() == str(len(stored) + 1)
    _shot(page, "events")

    page.fill("input[name=event]", "purchase_completed")
    page.click("form button")
    page.wait_for_url("**event=purchase_completed**")
    rows = page.locator("#events tbody tr[data-id]")
    assert rows.count() == want["purchases"]
    page.goto(inbox.url + "/?person=anon-2")
    assert page.locator("#events tbody tr[data-id]").count() == sum(
        e["distinct_id"] in ("anon-2", "user-2") for e in inbox.events()
    )
    page.goto(inbox.url + "/?path=/login")
    logins = [e for e in stored if "/login" in str(e["properties"].get("$current_url", ""))]
    assert page.locator("#events tbody tr[data-id]").count() == len(logins)

    page.goto(inbox.url + "/persons")
    assert page.locator("table").first.locator("tbody tr").count() == want["persons"]
    page.click("a[href='/person?id=anon-2']")
    assert page.locator("tr.merge").count() == 1
    assert "merge point: user-2 joined" in page.locator("tr.merge").inner_text()
    _shot(page, "person")

    page.goto(inbox.url + "/sessions")
    assert page.locator("tbody tr").count() == want["all_sessions"]
    assert f"{want['no_session']} page views have no $session_id" in page.content()
    page.locator("tbody tr a[href^='/session?id=']").first.click()
    assert page.locator("td.browser").count() >= 1
    assert page.locator("td.server").count() >= 1
    _shot(page, "sessions")

    page.goto(inbox.url + "/exceptions")
    section = page.locator("section[data-fingerprint]")
    assert section.count() == 1
    assert f"{want['exceptions']} events" in section.inner_text()
    assert "checkout" in section.inner_text()
    _shot(page, "exceptions")

    page.goto(inbox.url + "/warnings")
    count = page.locator('[data-warning="pageviews_without_session_id"] .count').inner_text()
    assert count == str(want["no_session"])
    _shot(page, "warnings")

    event_id = page.evaluate("fetch('/api/view/events?limit=1').then(r => r.json())")
    page.goto(inbox.url + f"/event?id={event_id['events'][0]['id']}")
    assert page.locator("#raw").count() == 1
    page.close()
    assert problems == []
    print(f"screenshots in {SHOTS}")


def test_hostile_content_runs_nothing_anywhere(inbox: InboxServer, chromium: Any) -> None:
    _send(inbox, hostile_events())
    problems: list[str] = []
    page = _open(chromium, problems)
    api = json.loads(requests.get(inbox.url + "/api/view/events", timeout=10).text)["events"]
    paths = ["/analytics?range=all", "/", "/persons", "/sessions", "/exceptions", "/warnings"]
    paths += [f"/event?id={e['id']}" for e in api]
    paths += [
        "/person?" + urlencode({"id": HOSTILE[1]}),
        "/session?" + urlencode({"id": HOSTILE[0]}),
    ]
    for path in paths:
        page.goto(inbox.url + path)
        page.wait_for_timeout(50)
        assert page.evaluate("window.__pwned === undefined"), path
        assert page.locator("main script, main img, main svg[onload]").count() == 0, path
    page.goto(inbox.url + "/")
    page.wait_for_timeout(1500)  # one live update with the hostile rows
    assert page.evaluate("window.__pwned === undefined")
    _shot(page, "hostile")
    page.close()
    assert problems == []
