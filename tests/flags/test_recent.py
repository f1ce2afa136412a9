"""Reused evaluations (flags/recent.py): a reused result is always the one a fresh
evaluation gives, whatever changed between two reads of one visitor."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.evaluator import FlagEvaluator
from posthog_web.flags.local import evaluate
from posthog_web.flags.reasons import Undecided
from posthog_web.flags.recent import RecentEvaluations

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
FLAGS = [EXACT_ONE, ZERO_TEXT, SPLIT, ROLLOUT, DATED]


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


def fresh(key: str, distinct_id: str, person: dict[str, Any]) -> Any:
    """The value without any reuse: the engine alone."""
    defs = Definitions.from_json({"flags": FLAGS})
    try:
        return evaluate(defs, defs.by_key[key], distinct_id, {"distinct_id": distinct_id, **person})
    except Undecided:
        return None


def test_pure_is_a_plain_flag_without_date_filters() -> None:
    defs = Definitions.from_json({"flags": FLAGS})
    assert [defs.by_key[f["key"]].pure for f in FLAGS] == [True, True, True, True, False]
    cohort = {"key": "c", "active": True, "filters": {"groups": [{"properties": [
        {"key": "id", "type": "cohort", "value": 1}]}]}}  # fmt: skip
    assert not Definitions.from_json({"flags": [cohort]}).by_key["c"].pure
    assert not defs.by_key["rollout"].reads_properties


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"n": "1"}, {"n": 1}),  # equal text, another type
        ({"n": 1}, {"n": True}),  # 1 == True, but "1" != "true" to the exact operator
        ({"n": True}, {"n": 1.0}),
        ({"n": 0.0}, {"n": -0.0}),  # equal, printed apart: "-0.0" matches "^-"
        ({"n": -0.0}, {"n": 0.0}),
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
        for key in ("exact-one", "zero-text"):
            assert made.evaluate(key, "user-1", person).value == fresh(key, "user-1", person)


def test_new_definitions_are_never_answered_from_the_old() -> None:
    made = evaluator()
    assert made.evaluate("exact-one", "user-1", {"n": "1"}).value is True
    made.set_definitions({"flags": [{**EXACT_ONE, "active": False}]})
    assert made.evaluate("exact-one", "user-1", {"n": "1"}).value is False


def test_a_flag_that_reads_no_property_is_kept_for_any_person_properties() -> None:
    made = evaluator()
    first = made.evaluate("rollout", "user-7", {"plan": "pro"})
    assert made.evaluate("rollout", "user-7", {"plan": "free", "age": 3}) is first
    assert kept(made).get("rollout", "user-7", {"plan": "team"}) == first.value


def test_only_pure_flags_with_immutable_values_are_kept() -> None:
    made = evaluator()
    for _ in range(2):  # kept from the second evaluation on
        made.evaluate("dated", "user-1", {"seen": "2026-12-01T00:00:00Z"})  # reads the clock
        made.evaluate("exact-one", "user-1", {"n": ["1"]})  # a list can change in place
        made.evaluate("exact-one", "user-2", {"n": "1"})
    recent = kept(made)
    assert recent.get("exact-one", "user-2", {"n": "1"}) is True
    assert recent.get("exact-one", "user-1", {"n": ["1"]}) is None
    assert recent.get("dated", "user-1", {"seen": "2026-12-01T00:00:00Z"}) is None


def test_a_visitor_seen_once_costs_no_copy() -> None:
    made = evaluator()
    made.evaluate("exact-one", "user-1", {"n": "1"})
    assert kept(made)._entries == {("exact-one", "user-1"): None}


def test_full_starts_over() -> None:
    recent = RecentEvaluations(capacity=2)
    for index in range(3):
        for _ in range(2):
            recent.put("exact-one", f"user-{index}", {"n": "1"}, "test")
    assert len(recent) == 1
    assert recent.get("exact-one", "user-2", {"n": "1"}) == "test"
    assert recent.get("exact-one", "user-0", {"n": "1"}) is None


def test_entries_are_not_tracked_by_the_cyclic_collector() -> None:
    made = evaluator()
    for _ in range(2):
        made.evaluate("exact-one", "user-1", {"n": "1", "age": 3, "pro": True, "x": None})
        made.evaluate("rollout", "user-1", {})
    for _ in range(3):  # a collection untracks a tuple of untracked items: inner ones first
        gc.collect()
    assert not any(gc.is_tracked(entry) for entry in kept(made)._entries.values())


person_values = st.sampled_from(["1", "-0.0", 1, True, False, 1.0, 0.0, -0.0, None, 0, "x"])
people = st.dictionaries(st.sampled_from(["n", "a", "m"]), person_values, max_size=3)


@given(reads=st.lists(st.tuples(st.sampled_from(["u1", "u2"]), people), min_size=1, max_size=12))
def test_every_reused_value_is_the_fresh_one(reads: list[tuple[str, dict[str, Any]]]) -> None:
    made = evaluator()
    for distinct_id, person in reads:
        for key in ("exact-one", "zero-text", "split", "rollout"):
            assert made.evaluate(key, distinct_id, person).value == fresh(key, distinct_id, person)
