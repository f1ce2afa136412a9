"""The page's views and their JSON API on a real inbox: figures, filters, errors, escaping."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import requests

from posthog_web.inbox import InboxServer
from posthog_web.inbox.store import SCHEMA_VERSION, EventStore
from posthog_web.inbox.ui import View, ViewContext, by_name, navigation, register, registry
from tests.inbox.helpers import TOKEN, UUID4, UUID7, batch, make_event

XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
NOW = dt.datetime.now(dt.timezone.utc).isoformat()
DUP = "0192f6a0-0000-7000-8000-000000000001"


def _send(inbox: InboxServer, *events: dict[str, Any], token: str = TOKEN) -> None:
    response = requests.post(inbox.url + "/batch/", json=batch(*events, token=token), timeout=5)
    assert response.status_code == 200, response.text


def _api(inbox: InboxServer, name: str, **params: str) -> Any:
    response = requests.get(f"{inbox.url}/api/view/{name}", params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def _page(inbox: InboxServer, path: str, **params: str) -> requests.Response:
    return requests.get(inbox.url + path, params=params, timeout=5)


def _store_journey(inbox: InboxServer) -> None:
    def page(did: str, path: str, **props: Any) -> dict[str, Any]:
        properties = {"$current_url": f"https://shop.example{path}", "$lib": "web", **props}
        return make_event("$pageview", did, timestamp=NOW, properties=properties)

    _send(
        inbox,
        page("anon", "/", **{"$session_id": UUID7, "$browser": XSS}),
        page("anon", "/pricing", **{"$session_id": UUID7}),
        make_event(
            "$identify",
            "user-1",
            timestamp=NOW,
            uuid=DUP,
            properties={
                "$anon_distinct_id": "anon",
                "$session_id": UUID7,
                "$lib": "posthog-python",
            },
        ),
        page("user-1", "/dashboard", **{"$session_id": UUID7}),
        page("other", "/", **{"$session_id": UUID4}),
        page("nosession", "/about"),
        make_event("bought", "user-1", timestamp=NOW, uuid=DUP, properties={"item": XSS}),
        make_event("ping", "ghost", timestamp=NOW, properties={"$process_person_profile": False}),
        make_event(
            "$exception",
            "user-1",
            timestamp=NOW,
            properties={
                "$exception_list": [
                    {
                        "type": "KeyError",
                        "value": XSS,
                        "stacktrace": {
                            "type": "raw",
                            "frames": [
                                {
                                    "filename": "shop/views.py",
                                    "lineno": 7,
                                    "function": "buy",
                                    "platform": "python",
                                    "context_line": XSS,
                                }
                            ],
                        },
                    }
                ]
            },
        ),
    )


def test_analytics_counts_visitors_after_the_merge_and_skips_bad_sessions(
    inbox: InboxServer,
) -> None:
    _store_journey(inbox)
    found = _api(inbox, "analytics", range="hour")
    # anon and user-1 are one person: visitors are that person, "other" and "nosession".
    assert (found["page_views"], found["visitors"], found["sessions"]) == (5, 3, 1)
    assert found["breakdowns"]["entry_pages"] == [{"value": "/", "visitors": 1, "sessions": 1}]
    assert found["breakdowns"]["exit_pages"][0]["value"] == "/dashboard"
    assert requests.get(inbox.url + "/api/view/analytics?range=week", timeout=5).status_code == 400


def test_events_filters_and_the_live_fragment(inbox: InboxServer) -> None:
    _store_journey(inbox)
    every = _api(inbox, "events")["events"]
    assert [e["id"] for e in every] == sorted((e["id"] for e in every), reverse=True)
    assert len(every) == len(inbox.events())
    by_person = _api(inbox, "events", person="anon")["events"]
    assert {e["distinct_id"] for e in by_person} == {"anon", "user-1"}
    assert len(_api(inbox, "events", session=UUID7)["events"]) == 4
    assert [e["distinct_id"] for e in _api(inbox, "events", path="/about")["events"]] == [
        "nosession"
    ]
    assert [e["event"] for e in _api(inbox, "events", property="item")["events"]] == ["bought"]
    assert _api(inbox, "events", property="$lib=posthog-python")["events"][0]["event"] == (
        "$identify"
    )
    last = every[0]["id"]
    assert _page(inbox, "/", fragment="1", after=str(last)).text == ""
    _send(inbox, make_event("late_event", "anon"))
    fragment = _page(inbox, "/", fragment="1", after=str(last)).text
    assert fragment.startswith(f'<tr data-id="{last + 1}"')
    assert "late_event" in fragment
    assert requests.get(inbox.url + "/api/view/events?after=x", timeout=5).status_code == 400


def test_event_person_and_session_pages(inbox: InboxServer) -> None:
    _store_journey(inbox)
    identify = next(e for e in _api(inbox, "events")["events"] if e["event"] == "$identify")
    event = _page(inbox, "/event", id=str(identify["id"])).text
    assert "Anonymous distinct ID" in event
    assert "Raw JSON" in event
    assert 'href="/person?id=anon"' in event
    assert f'href="/session?id={UUID7}"' in event
    person = _api(inbox, "person", id="user-1")
    assert person["key"] == "anon"
    assert person["event_count"] == 6
    marked = [e for e in person["timeline"] if e["merged_ids"]]
    assert [(e["event"], e["merged_ids"]) for e in marked] == [("$identify", ["user-1"])]
    assert "merge point: user-1 joined" in _page(inbox, "/person", id="anon").text
    session = _api(inbox, "session", id=UUID7)["timeline"]
    assert [e["source"] for e in session] == ["browser", "browser", "server (posthog-python)",
                                              "browser"]  # fmt: skip
    assert _page(inbox, "/event", id="999").status_code == 404
    assert requests.get(inbox.url + "/api/view/session?id=x", timeout=5).status_code == 404


def test_sessions_persons_exceptions_and_warnings(inbox: InboxServer) -> None:
    _store_journey(inbox)
    requests.post(inbox.url + "/batch/", json=batch(make_event("")), timeout=5)
    sessions = _api(inbox, "sessions")
    assert [(s["session_id"], s["page_views"], s["valid_uuid7"]) for s in sessions["sessions"]] == [
        (UUID7, 3, True),
        (UUID4, 1, False),
    ]
    assert sessions["page_views_without_session_id"] == 1
    persons = _api(inbox, "persons")["persons"]
    merged = next(p for p in persons if p["key"] == "anon")
    assert merged["merges"][0]["event"] == "$identify"
    assert merged["event_count"] == 6
    groups = _api(inbox, "exceptions")["groups"]
    assert [(g["types"], g["count"]) for g in groups] == [(["KeyError"], 1)]
    assert groups[0]["frames"][0]["function"] == "buy"
    warnings = _api(inbox, "warnings")
    assert warnings["rejected"]["count"] == 1
    assert warnings["pageviews_without_session_id"]["items"][0]["distinct_id"] == "nosession"
    assert warnings["personless"]["items"] == [{"distinct_id": "ghost", "events": 1}]
    assert [d["uuid"] for d in warnings["duplicate_uuids"]["items"]] == [DUP]


def test_warnings_for_clock_skew_and_a_second_identify(inbox: InboxServer) -> None:
    skewed = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)).isoformat()
    _send(
        inbox,
        make_event("$identify", "u1", properties={"$anon_distinct_id": "a"}),
        make_event("$identify", "u2", properties={"$anon_distinct_id": "a"}),
        make_event("$identify", "u3", properties={"$anon_distinct_id": "b"}),
        make_event("$identify", "u3", properties={"$anon_distinct_id": "u1"}),
    )
    requests.post(
        inbox.url + "/batch/",
        json={**batch(make_event("x", "u1", timestamp=skewed)), "sent_at": skewed},
        timeout=5,
    )
    warnings = _api(inbox, "warnings")
    reasons = {w["reason"] for w in warnings["merged_twice"]["items"]}
    assert reasons == {"cannot_merge_already_identified", "identified as several users"}
    assert warnings["clock_skew"]["count"] == 1
    assert warnings["clock_skew"]["items"][0]["seconds"] > 7000


def test_every_page_escapes_hostile_content_and_masks_the_key(inbox: InboxServer) -> None:
    _store_journey(inbox)
    ids = [str(e["id"]) for e in _api(inbox, "events")["events"]]
    paths = [(v.page, {}) for v in navigation()]
    paths += [("/event", {"id": i}) for i in ids]
    paths += [("/person", {"id": "anon"}), ("/session", {"id": UUID7})]
    for path, params in paths:
        response = _page(inbox, path, **params)
        assert response.status_code == 200, path
        assert XSS not in response.text, path
        assert "<script>alert" not in response.text, path
        assert TOKEN not in response.text, path
        assert "script-src 'nonce-" in response.headers["Content-Security-Policy"]


def test_a_view_plugs_in_with_one_registration(inbox: InboxServer) -> None:
    def figures(ctx: ViewContext) -> dict[str, Any]:
        return {"stored": len(ctx.data.snapshot().rows)}

    def render(ctx: ViewContext, found: dict[str, Any]) -> str:
        return f"<p>{found['stored']} stored</p>"

    register(View("plugged", "Plugged", figures, render, order=999))
    try:
        _send(inbox, make_event())
        assert _api(inbox, "plugged") == {"stored": 1}
        page = _page(inbox, "/plugged").text
        assert "<p>1 stored</p>" in page
        assert 'href="/plugged"' in page
    finally:
        registry._views.pop("plugged")
    assert by_name("plugged") is None


def test_an_old_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL,"
        " distinct_id TEXT NOT NULL, uuid TEXT, timestamp TEXT, sent_at TEXT,"
        " received_at TEXT NOT NULL, api_key TEXT NOT NULL, data TEXT NOT NULL)"
    )
    conn.execute(
        "INSERT INTO events (event, distinct_id, received_at, api_key, data)"
        " VALUES ('a', 'u', '2026-01-01T00:00:00+00:00', 'k', '{\"event\": \"a\"}')"
    )
    conn.commit()
    conn.close()
    EventStore(path).close()
    conn = sqlite3.connect(path)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    (kept,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    conn.close()
    assert {"events_uuid", "events_session_id"} <= indexes
    assert (version, kept) == (SCHEMA_VERSION, 1)
    EventStore(path).close()  # a migrated database opens again unchanged


def test_the_views_forget_cleared_events_and_see_new_ones(inbox: InboxServer) -> None:
    _send(inbox, make_event("first", "a"), make_event("$pageview", "a"))
    assert _api(inbox, "analytics", range="all")["page_views"] == 1
    assert requests.delete(inbox.url + "/api/events", timeout=5).status_code == 200
    assert _api(inbox, "events")["events"] == []
    assert _api(inbox, "analytics", range="all")["page_views"] == 0
    assert _api(inbox, "persons")["persons"] == []
    _send(inbox, make_event("second", "b"))
    assert [e["event"] for e in _api(inbox, "events")["events"]] == ["second"]
    assert [p["key"] for p in _api(inbox, "persons")["persons"]] == ["b"]
