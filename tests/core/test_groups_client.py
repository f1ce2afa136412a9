"""Client groups, person properties, super properties and before_send, at the inbox."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from posthog_web.inbox import InboxServer
from tests.core.helpers import MakeClient


def _sent(client: Any, inbox: InboxServer, event: str | None = None) -> list[dict[str, Any]]:
    assert client.flush(timeout=10)
    return inbox.events(event)


def test_groups_on_every_event_operation(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client()
    client.capture("signed up", distinct_id="u1", groups={"company": "acme", "team": 7})
    client.page(distinct_id="u1", name="Home", groups={"company": "acme"})
    client.screen(distinct_id="u1", name="Main", groups={"company": "acme"})
    try:
        raise RuntimeError("x")
    except RuntimeError as exc:
        client.capture_exception(exc, distinct_id="u1", groups={"company": "acme"})
    events = {e["event"]: e for e in _sent(client, inbox)}
    assert events["signed up"]["properties"]["$groups"] == {"company": "acme", "team": "7"}
    for name in ("$pageview", "$screen", "$exception"):
        assert events[name]["properties"]["$groups"] == {"company": "acme"}


def test_group_identify_set_and_set_once(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client()
    client.group_identify("company", "acme", properties={"name": "Acme", "seats": 3})
    client.group_identify("company", "acme", properties={"plan": "pro"}, distinct_id="u1")
    client.set(distinct_id="u1", properties={"plan": "pro"})
    client.set_once(distinct_id="u1", properties={"first_seen": "2026-01-01"})
    assert client.set(distinct_id="u1", properties={}) is None  # nothing to send
    events = _sent(client, inbox)
    identifies = [e for e in events if e["event"] == "$groupidentify"]
    assert [e["distinct_id"] for e in identifies] == ["$company_acme", "u1"]
    assert identifies[0]["properties"]["$group_type"] == "company"
    assert identifies[0]["properties"]["$group_key"] == "acme"
    assert identifies[0]["properties"]["$group_set"] == {"name": "Acme", "seats": 3}
    assert "$process_person_profile" not in identifies[0]["properties"]  # always personful
    sets = [e for e in events if e["event"] == "$set"]
    assert sets[0]["$set"] == {"plan": "pro"}
    once = [e for e in events if e["event"] == "$set_once"]
    assert once[0]["$set_once"] == {"first_seen": "2026-01-01"}
    assert len(events) == 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.capture("e", distinct_id="u", groups=["acme"]), "groups must be a mapping"),
        (lambda c: c.capture("e", distinct_id="u", groups={"": "a"}), "groups key '' must"),
        (lambda c: c.capture("e", distinct_id="u", groups={"c": ""}), "groups['c'] must"),
        (lambda c: c.capture("e", distinct_id="u", groups={"c": 1.5}), "groups['c'] must be"),
        (lambda c: c.group_identify("c", "k" * 401), "group_key is 401 characters"),
        (lambda c: c.group_identify(3, "k"), "group_type must be a str"),
        (lambda c: c.set(distinct_id="u", properties=[1]), "properties must be a mapping"),
        (lambda c: c.set_once(distinct_id="null", properties={"a": 1}), "distinct_id="),
    ],
)
def test_bad_groups_and_person_calls_raise_naming_the_field(
    make_client: MakeClient, call: Any, message: str
) -> None:
    client = make_client()
    with pytest.raises((TypeError, ValueError), match=message.replace("[", r"\[")):
        call(client)
    assert client.stats()["queued"] == 0


def test_a_sixth_group_type_is_warned_once(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(disabled=True)
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        client.capture("e", distinct_id="u", groups={f"t{i}": "k" for i in range(5)})
        assert "group types" not in caplog.text
        client.capture("e", distinct_id="u", groups={"t5": "k"})
        client.group_identify("t6", "k")
    assert caplog.text.count("group types were sent") == 1
    assert "t5" in caplog.text


def test_super_properties_under_the_event_s_own(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(super_properties={"app": "web", "plan": "super"})
    client.capture("e", distinct_id="u", properties={"plan": "own"})
    client.enqueue(
        {"event": "raw", "distinct_id": "u", "properties": {}, "timestamp": "2026-12-02T00:00:00Z"}
    )
    events = {e["event"]: e for e in _sent(client, inbox)}
    assert events["e"]["properties"]["plan"] == "own"
    assert events["e"]["properties"]["app"] == "web"
    assert events["raw"]["properties"]["app"] == "web"


def test_before_send_changes_drops_and_survives_errors(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[dict[str, Any]] = []

    def before_send(event: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(event)
        if event["event"] == "drop me":
            return None
        if event["event"] == "boom":
            raise RuntimeError("hook bug")
        if event["event"] == "bad":
            return "not an event"  # type: ignore[return-value]
        event["properties"]["checked"] = True
        return event

    client = make_client(before_send=before_send)
    with caplog.at_level(logging.DEBUG, logger="posthog_web"):
        for name in ("keep", "drop me", "boom", "bad"):
            assert client.capture(name, distinct_id="u") is None
        client.set(distinct_id="u", properties={"a": 1})
    events = _sent(client, inbox)
    assert sorted(e["event"] for e in events) == ["$set", "keep"]
    keep = next(e for e in events if e["event"] == "keep")
    assert keep["properties"]["checked"] is True
    assert seen[0]["uuid"] == keep["uuid"]  # the hook saw the whole event
    assert next(e for e in seen if e["event"] == "$set")["$set"] == {"a": 1}
    assert client.stats()["dropped_before_send"] == 3
    assert "before_send raised" in caplog.text


def test_bad_hook_arguments_raise() -> None:
    from posthog_web import Client

    with pytest.raises(TypeError, match="before_send must be a callable"):
        Client("phc_test", disabled=True, before_send=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="super_properties"):
        Client("phc_test", disabled=True, super_properties={"a": object()})
