"""Reused evaluations (flags/recent.py): a reused result is always the one a fresh
evaluation gives, whatever changed between two reads of one visitor."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.evaluator import FlagEvaluator
from posthog_web.flags.local import evaluate
from posthog_web.flags.reasons import Undecided
from posthog_web.flags.recent import RecentEvaluations
from posthog_web.flags.results import FlagResult

EXACT_ONE = {
    "key": "exact-one", "id": 1, "active": True,
    "filters": {"groups": [{"properties": [{"key": "n", "operator": "exact", "value": ["1"],
                                            "type": "person"}], "rollout_percentage": 100}]},
}  # fmt: skip
ZERO_TEXT = {
    "key": "zero-text", "id": 2, "active": True,
    "filters": {"groups": [{"properties": [{"key": "n", "operator": "regex", "value": "^-",
                                            "type": "person"}], "rollout_percentage": 100}]},
}  # fmt: skip
SPLIT = {
    "key": "split", "id": 3, "active": True,
    "filters": {"groups": [{"properties": [{"key": "a", "operator": "exact", "value": ["1"],
                                            "type": "person"}], "rollout_percentage": 100}],
                "multivariate": {"variants": [{"key": "x", "rollout_percentage": 50},
                                              {"key": "y", "rollout_percentage": 50}]}},
}  # fmt: skip
ROLLOUT = {
    "key": "rollout",
    "id": 4,
    "active": True,
    "filters": {"groups": [{"properties": [], "rollout_percentage": 50}]},
}
DATED = {
    "key": "dated", "id": 5, "active": True,
    "filters": {"groups": [{"properties": [{"key": "seen", "operator": "is_date_after",
                                            "value": "-7d", "type": "person"}]}]},
}  # fmt: skip
TWO = {
    "key": "two", "id": 6, "active": True,
    "filters": {"groups": [{"properties": [
        {"key": "n", "operator": "exact", "value": ["1", "True"], "type": "person"},
        {"key": "m", "operator": "regex", "value": "^(-|1)", "type": "person"},
    ], "rollout_percentage": 100}, {"properties": [
        {"key": "n", "operator": "is_not", "value": ["1"], "type": "person"},
    ], "rollout_percentage": 40}]},
}  # fmt: skip
UNSET = {
    "key": "unset", "id": 7, "active": True,
    "filters": {"groups": [{"properties": [{"key": "a", "operator": "is_not_set",
                                            "type": "person"}], "rollout_percentage": 100}]},
}  # fmt: skip
FLAGS = [EXACT_ONE, ZERO_TEXT, SPLIT, ROLLOUT, DATED, TWO, UNSET]
READ = ("exact-one", "zero-text", "split", "rollout", "two", "unset")


def evaluator(*flags: dict[str, Any]) -> FlagEvaluator:
    made = FlagEvaluator(
        host="http://127.0.0.1:9", api_key="phc_x", secret_key=None,
        poll_interval=30, timeout=1, network=False,
    )  # fmt: skip
    made.set_definitions({"flags": list(flags or FLAGS)})
    return made


def kept(made: FlagEvaluator) -> RecentEvaluations:
    defs = made.definitions()
    assert defs is not None
    return defs.recent


def value(result: FlagResult | None) -> Any:
    return None if result is None else result.value


def fresh(key: str, distinct_id: str, person: dict[str, Any]) -> Any:
    """The value without any reuse: the engine alone."""
    defs = Definitions.from_json({"flags": FLAGS})
    try:
        return evaluate(defs, defs.by_key[key], distinct_id, {"distinct_id": distinct_id, **person})
    except Undecided:
        return None


def test_pure_is_a_plain_flag_without_date_filters() -> None:
    defs = Definitions.from_json({"flags": FLAGS})
    assert [defs.by_key[f["key"]].pure for f in FLAGS] == [True] * 4 + [False, True, True]
    cohort = {"key": "c", "active": True, "filters": {"groups": [{"properties": [
        {"key": "id", "type": "cohort", "value": 1}]}]}}  # fmt: skip
    assert not Definitions.from_json({"flags": [cohort]}).by_key["c"].pure
    keys = {f["key"]: defs.by_key[f["key"]].person_keys for f in FLAGS}
    assert keys == {"exact-one": ("n",), "zero-text": ("n",), "split": ("a",), "rollout": (),
                    "dated": ("seen",), "two": ("n", "m"), "unset": ("a",)}  # fmt: skip


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"n": "1"}, {"n": 1}),  # equal text, another type
        ({"n": 1}, {"n": True}),  # 1 == True, but "1" != "true" to the exact operator
        ({"n": True}, {"n": 1.0}),
        ({"n": 0.0}, {"n": -0.0}),  # equal, printed apart: "-0.0" matches "^-"
        ({"n": -0.0}, {"n": 0.0}),
        ({"n": "1", "m": 0.0}, {"n": "1", "m": -0.0}),  # the same, in a flag reading two
        ({"n": "1", "m": 1}, {"n": "1", "m": True}),
        ({"n": 1, "m": True}, {"m": 1, "n": True}),  # equal, with the types swapped
        ({"n": "1"}, {"n": "1", "m": None}),
        ({"n": "1"}, {}),
    ],
)
def test_a_change_the_engine_sees_is_evaluated_again(
    first: dict[str, Any], then: dict[str, Any]
) -> None:
    made = evaluator()
    # The second evaluation is kept; the third compares `then` with `first`.
    for person in (first, first, then, then, first):
        for key in ("exact-one", "zero-text", "two"):
            assert made.evaluate(key, "user-1", person).value == fresh(key, "user-1", person)


def reads(count: int) -> dict[str, Any]:
    """A flag on when any of properties p0..p<count-1> prints as "1"."""
    conditions = [
        {"properties": [{"key": f"p{i}", "operator": "regex", "value": "^1$", "type": "person"}],
         "rollout_percentage": 100}
        for i in range(count)
    ]  # fmt: skip
    return {"key": f"reads-{count}", "active": True, "filters": {"groups": conditions}}


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5])
def test_each_read_property_is_compared_with_its_type(count: int) -> None:
    flag = reads(count)
    for place in range(count):
        made = evaluator(flag)
        before = {f"p{i}": True if i == place else 2 for i in range(count)}  # "True": off
        after = {**before, f"p{place}": 1}  # equal to True, and prints as "1": on
        assert [made.evaluate(flag["key"], "u", p).value for p in (before, before)] == [False] * 2
        assert made.evaluate(flag["key"], "u", after).value is True
        assert made.evaluate(flag["key"], "u", {**after, "other": []}).value is True


def test_new_definitions_are_never_answered_from_the_old() -> None:
    made = evaluator()
    assert made.evaluate("exact-one", "user-1", {"n": "1"}).value is True
    made.set_definitions({"flags": [{**EXACT_ONE, "active": False}]})
    assert made.evaluate("exact-one", "user-1", {"n": "1"}).value is False


def test_a_flag_that_reads_no_property_is_kept_for_any_person_properties() -> None:
    made = evaluator()
    first = made.evaluate("rollout", "user-7", {"plan": "pro"})
    assert made.evaluate("rollout", "user-7", {"plan": "free", "age": 3}) is first
    assert kept(made).get("rollout", "user-7", {"plan": "team"}) is first


def test_only_pure_flags_with_immutable_values_are_kept() -> None:
    made = evaluator()
    for _ in range(2):  # kept from the second evaluation on
        made.evaluate("dated", "user-1", {"seen": "2026-12-01T00:00:00Z"})  # reads the clock
        made.evaluate("exact-one", "user-1", {"n": ["1"]})  # a list can change in place
        made.evaluate("exact-one", "user-2", {"n": "1"})
    recent = kept(made)
    assert value(recent.get("exact-one", "user-2", {"n": "1"})) is True
    assert recent.get("exact-one", "user-1", {"n": ["1"]}) is None
    assert recent.get("dated", "user-1", {"seen": "2026-12-01T00:00:00Z"}) is None


def test_a_visitor_seen_once_costs_no_copy() -> None:
    made = evaluator()
    made.evaluate("exact-one", "user-1", {"n": "1"})
    entries = kept(made)._entries
    assert entries["exact-one"] == {"user-1": None}
    assert not any(visitors for key, visitors in entries.items() if key != "exact-one")


def test_the_properties_a_flag_does_not_read_do_not_matter() -> None:
    made = evaluator()
    for joined in (datetime(2026, 1, 1, tzinfo=timezone.utc), "2026-01-01", None):
        person = {"joined": joined, "tags": ["a"], "n": "1", "m": "-5"}
        assert made.evaluate("exact-one", "user-1", person).value is True
        assert made.evaluate("two", "user-1", person).value is True
    # Kept from the second evaluation on, whatever the other properties hold.
    recent = kept(made)
    assert value(recent.get("exact-one", "user-1", {"n": "1", "tags": object()})) is True
    assert value(recent.get("two", "user-1", {"m": "-5", "n": "1"})) is True
    assert recent.get("two", "user-1", {"n": "1", "m": "-6"}) is None
    assert recent.get("two", "user-1", {"n": "1"}) is None  # a read property went missing


class _NoEquality(str):
    """A value whose comparison raises (as a numpy array's truth value does)."""

    def __eq__(self, other: object) -> bool:
        raise ValueError("compared")

    __hash__ = str.__hash__


def test_a_value_of_another_type_is_never_compared() -> None:
    made = evaluator()
    for _ in range(2):  # kept from the second evaluation on
        made.evaluate("exact-one", "user-1", {"n": "1"})
        made.evaluate("two", "user-1", {"n": "1", "m": "-5"})
    recent = kept(made)
    assert recent.get("exact-one", "user-1", {"n": _NoEquality("1")}) is None
    assert recent.get("two", "user-1", {"n": "1", "m": _NoEquality("-5")}) is None
    assert recent.get("two", "user-1", {"n": 1, "m": "-5"}) is None  # 1 == "1" is False anyway
    assert value(recent.get("two", "user-1", {"n": "1", "m": "-5"})) is True


def test_a_missing_property_is_never_reused() -> None:
    made = evaluator()
    for person in ({}, {}, {"a": 1}, {}):
        assert made.evaluate("unset", "user-1", person).value == fresh("unset", "user-1", person)
    assert kept(made).get("unset", "user-1", {}) is None


def test_full_starts_over() -> None:
    recent = RecentEvaluations(Definitions.from_json({"flags": FLAGS}).flags, capacity=2)
    for index in range(3):
        for _ in range(2):
            recent.put("exact-one", f"user-{index}", {"n": "1"}, FlagResult("exact-one", "x"))
    assert len(recent) == 1
    assert value(recent.get("exact-one", "user-2", {"n": "1"})) == "x"
    assert recent.get("exact-one", "user-0", {"n": "1"}) is None


def test_the_bound_is_over_all_flags() -> None:
    recent = RecentEvaluations(Definitions.from_json({"flags": FLAGS}).flags, capacity=2)
    recent.put("exact-one", "user-0", {"n": "1"}, FlagResult("exact-one", "x"))
    recent.put("exact-one", "user-0", {"n": "1"}, FlagResult("exact-one", "x"))
    recent.put("two", "user-1", {"n": "1", "m": "-5"}, FlagResult("two", True))
    assert len(recent) == 2
    recent.put("two", "user-2", {"n": "1", "m": "-5"}, FlagResult("two", True))
    # Full: every flag's visitors start over, not only the flag being kept.
    assert len(recent) == 1
    assert recent.get("exact-one", "user-0", {"n": "1"}) is None


def test_an_entry_holds_the_shared_result_and_the_read_properties_only() -> None:
    made = evaluator()
    person = {"n": "1", "age": 3, "pro": True, "joined": datetime(2026, 1, 1)}
    results = {made.evaluate("exact-one", f"user-{i % 2}", person) for i in range(6)}
    assert len(results) == 1  # one result object per (flag, value) of a definitions set
    (result,) = results
    assert kept(made)._entries["exact-one"]["user-1"][2:] == ("1", str, result)


person_values = st.sampled_from(["1", "-0.0", 1, True, False, 1.0, 0.0, -0.0, None, 0, "x"])
people = st.dictionaries(st.sampled_from(["n", "a", "m"]), person_values, max_size=3)


@given(reads=st.lists(st.tuples(st.sampled_from(["u1", "u2"]), people), min_size=1, max_size=12))
def test_every_reused_value_is_the_fresh_one(reads: list[tuple[str, dict[str, Any]]]) -> None:
    made = evaluator()
    for distinct_id, person in reads:
        for key in READ:
            assert made.evaluate(key, distinct_id, person).value == fresh(key, distinct_id, person)
