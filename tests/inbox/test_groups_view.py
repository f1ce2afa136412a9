"""The inbox's groups view and its JSON API (/api/view/groups, /api/view/group)."""

from __future__ import annotations

from typing import Any

import requests

from posthog_web.inbox import InboxServer
from tests.inbox.helpers import TOKEN, batch, make_event


def _send(inbox: InboxServer, *events: dict[str, Any]) -> None:
    response = requests.post(f"{inbox.url}/batch/", json=batch(*events, token=TOKEN), timeout=5)
    assert response.status_code == 200


def _event(name: str, did: str, when: str, **props: Any) -> dict[str, Any]:
    return make_event(name, did, timestamp=when, properties=props)


def test_groups_properties_persons_and_personless_events(inbox: InboxServer) -> None:
    _send(
        inbox,
        _event(
            "$groupidentify",
            "$company_acme",
            "2026-12-01T10:00:00Z",
            **{
                "$group_type": "company",
                "$group_key": "acme",
                "$group_set": {"name": "Acme", "seats": 3},
            },
        ),
        _event(
            "$groupidentify",
            "u1",
            "2026-12-01T11:00:00Z",
            **{"$group_type": "company", "$group_key": "acme", "$group_set": {"seats": 5}},
        ),
        _event("viewed", "u1", "2026-12-01T10:30:00Z", **{"$groups": {"company": "acme"}}),
        _event(
            "viewed",
            "anon",
            "2026-12-01T10:40:00Z",
            **{"$groups": {"company": "acme"}, "$process_person_profile": False},
        ),
        _event("viewed", "u2", "2026-12-01T10:50:00Z", **{"$groups": {"team": "t1"}}),
    )
    found = requests.get(f"{inbox.url}/api/view/groups", timeout=5).json()
    assert found["types"] == ["company", "team"]
    assert found["too_many_types"] is False
    acme = next(g for g in found["groups"] if g["key"] == "acme")
    assert acme["properties"] == {"name": "Acme", "seats": 5}  # merged in time order
    assert acme["events"] == 2
    assert acme["personless_events"] == 1
    assert acme["persons"] == ["u1"]
    assert acme["first_seen"] == "2026-12-01T10:00:00Z"
    one = requests.get(
        f"{inbox.url}/api/view/group", params={"type": "team", "key": "t1"}, timeout=5
    ).json()
    assert one["persons"] == ["u2"]
    page = requests.get(f"{inbox.url}/groups", timeout=5)
    assert page.status_code == 200
    assert "acme" in page.text


def test_a_sixth_type_is_flagged_and_unknown_groups_are_not_found(inbox: InboxServer) -> None:
    _send(
        inbox,
        _event(
            "e", "u1", "2026-12-01T10:00:00Z", **{"$groups": {f"type{i}": "k" for i in range(6)}}
        ),
    )
    found = requests.get(f"{inbox.url}/api/view/groups", timeout=5).json()
    assert found["too_many_types"] is True
    assert "PostHog keeps 5" in requests.get(f"{inbox.url}/groups", timeout=5).text
    missing = requests.get(
        f"{inbox.url}/api/view/group", params={"type": "x", "key": "y"}, timeout=5
    )
    assert missing.status_code == 404
    bad = requests.get(f"{inbox.url}/api/view/group", timeout=5)
    assert bad.status_code == 400
