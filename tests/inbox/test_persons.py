"""PostHog's merge rules (§3.3) as the inbox's persons view applies them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from posthog_web.inbox import InboxServer
from posthog_web.inbox.persons import is_illegal_distinct_id, merge_view
from tests.inbox.helpers import batch, make_event

ANON = "01a028e7-e040-7a11-b222-333344445555"


def identify(user: str, anon: Any, **props: Any) -> dict[str, Any]:
    return make_event("$identify", user, properties={"$anon_distinct_id": anon, **props})


def alias(distinct_id: str, other: str, name: str = "$create_alias") -> dict[str, Any]:
    return make_event(name, distinct_id, properties={"alias": other})


def view(*events: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    return merge_view(events)


def test_identify_merges_the_anonymous_person_into_the_user() -> None:
    persons, refusals = view(
        make_event("$pageview", ANON, **{"$set_once": {"first_url": "/"}}),
        make_event("$pageview", "user-1", **{"$set": {"plan": "pro"}}),
        identify("user-1", ANON, **{"$set": {"email": "ada@example.com"}}),
    )

    assert refusals == []
    assert persons == [
        {
            "distinct_ids": ["user-1", ANON],
            "is_identified": True,
            "properties": {"plan": "pro", "first_url": "/", "email": "ada@example.com"},
        }
    ]


def test_identify_with_no_persons_yet_creates_one_holding_both_ids() -> None:
    persons, _ = view(identify("user-1", ANON))

    assert persons == [{"distinct_ids": ["user-1", ANON], "is_identified": True, "properties": {}}]


def test_only_one_side_has_a_person_adds_the_other_id() -> None:
    from_anon, _ = view(make_event("$pageview", ANON), identify("user-1", ANON))
    from_user, _ = view(make_event("$pageview", "user-1"), identify("user-1", ANON))

    assert from_anon[0]["distinct_ids"] == [ANON, "user-1"]
    assert from_user[0]["distinct_ids"] == ["user-1", ANON]


def test_target_values_win_on_property_conflicts() -> None:
    persons, _ = view(
        make_event("a", ANON, **{"$set": {"color": "anon", "only_anon": 1}}),
        make_event("b", "user-1", **{"$set": {"color": "user"}}),
        identify("user-1", ANON),
    )

    assert persons[0]["properties"] == {"color": "user", "only_anon": 1}


def test_create_alias_merges_the_alias_person_into_the_distinct_id() -> None:
    persons, refusals = view(
        make_event("a", "user-1"), make_event("b", "crm-77"), alias("user-1", "crm-77")
    )

    assert refusals == []
    assert persons == [
        {"distinct_ids": ["user-1", "crm-77"], "is_identified": True, "properties": {}}
    ]


def test_merge_is_refused_when_the_source_is_already_identified() -> None:
    events = [
        identify("user-a", "anon-a"),
        make_event("x", "user-b"),
        alias("user-b", "user-a"),
    ]
    events[2]["uuid"] = "01a028fa-3740-7000-8000-00000000000a"

    persons, refusals = view(*events)

    assert len(persons) == 2
    assert refusals == [
        {
            "uuid": "01a028fa-3740-7000-8000-00000000000a",
            "event": "$create_alias",
            "distinct_id": "user-b",
            "other_distinct_id": "user-a",
            "reason": "cannot_merge_already_identified",
        }
    ]


def test_merge_dangerously_ignores_the_identified_check() -> None:
    persons, refusals = view(
        identify("user-a", "anon-a"),
        make_event("x", "user-b"),
        alias("user-b", "user-a", name="$merge_dangerously"),
    )

    assert refusals == []
    assert persons[0]["distinct_ids"] == ["user-b", "user-a", "anon-a"]


def test_shared_browser_hazard_adds_a_new_user_to_the_old_person() -> None:
    persons, refusals = view(identify("user-a", ANON), identify("user-b", ANON))

    assert refusals == []
    assert persons[0]["distinct_ids"] == ["user-a", ANON, "user-b"]


@pytest.mark.parametrize("bad", ["anonymous", "NULL_NOT", "null", "'null'", '"guest"', "0", " "])
def test_illegal_ids_refuse_the_merge(bad: str) -> None:
    persons, refusals = view(identify("user-1", bad))

    if bad == "NULL_NOT":
        assert refusals == []
        return
    assert [r["reason"] for r in refusals] == ["cannot_merge_with_illegal_distinct_id"]
    assert persons == [{"distinct_ids": ["user-1"], "is_identified": False, "properties": {}}]


@pytest.mark.parametrize(
    ("value", "illegal"),
    [
        ("NaN", True),
        ("nan", False),
        ("NULL", False),
        ("Anonymous", True),
        ("[object Object]", True),
        ("a\x00b", True),
        ("x" * 401, True),
        ("user-1", False),
        ("'", False),
    ],
)
def test_illegal_id_list(value: str, illegal: bool) -> None:
    assert is_illegal_distinct_id(value) is illegal


@pytest.mark.parametrize("name", ["$identify", "$create_alias", "$groupidentify"])
def test_personless_person_events_are_dropped_with_a_warning(name: str) -> None:
    event = make_event(name, "user-1", properties={"$process_person_profile": False})

    persons, refusals = view(event, make_event("$pageview", "anon", properties=event["properties"]))

    assert persons == []
    assert [r["reason"] for r in refusals] == ["invalid_event_when_process_person_profile_is_false"]


def test_same_id_missing_source_and_set_once_unset_rules() -> None:
    persons, refusals = view(
        identify("user-1", "user-1"),
        make_event("$identify", "user-1"),
        identify("user-1", ""),
        make_event("e", "user-1", properties={"$set_once": {"a": 1}, "$set": {"b": 2}}),
        make_event("e", "user-1", properties={"$set_once": {"a": 9}, "$unset": ["b", 3]}),
        identify("user-1", 42),
    )

    assert refusals == []
    assert persons == [
        {"distinct_ids": ["user-1", "42"], "is_identified": True, "properties": {"a": 1}}
    ]


def test_merging_two_ids_already_on_one_person_is_a_no_op() -> None:
    persons, _ = view(identify("user-1", ANON), identify("user-1", ANON))

    assert persons[0]["distinct_ids"] == ["user-1", ANON]


def test_persons_through_the_server_and_its_json_api(inbox: InboxServer) -> None:
    events = [
        make_event("$pageview", ANON),
        identify("user-1", ANON),
        make_event("$identify", "u", properties={"$anon_distinct_id": "email"}),
    ]
    requests.post(inbox.url + "/batch/", json=batch(*events), timeout=5)

    persons = inbox.persons()
    refusals = inbox.merge_refusals()
    api = requests.get(inbox.url + "/api/persons", timeout=5).json()

    assert persons[0]["distinct_ids"] == [ANON, "user-1"]
    assert [r["reason"] for r in refusals] == ["cannot_merge_with_illegal_distinct_id"]
    assert api == {"persons": persons, "refusals": refusals}
