"""Local evaluation against the worked examples of docs/flags.md and the official vectors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.hashing import bucket, holdout_bucket
from posthog_web.flags.local import evaluate
from posthog_web.flags.model import Malformed
from posthog_web.flags.reasons import Undecided

VECTORS = json.loads((Path(__file__).parent / "consistency_vectors.json").read_text())["vectors"]


def defs_of(*flags: dict[str, Any], **extra: Any) -> Definitions:
    return Definitions.from_json({"flags": list(flags), **extra})


def flag(key: str, *groups: dict[str, Any], **filters: Any) -> dict[str, Any]:
    return {"key": key, "id": 1, "active": True, "filters": {"groups": list(groups), **filters}}


def value(defs: Definitions, key: str, distinct_id: str, props: dict[str, Any] | None = None,
          **kw: Any) -> Any:  # fmt: skip
    person = {"distinct_id": distinct_id, **(props or {})}
    return evaluate(defs, defs.by_key[key], distinct_id, person, **kw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("beta-feature.user-1", 0.726491254926089), ("holdout-user-1", 0.178055992065730)],
)
def test_hash_worked_examples(text: str, expected: float) -> None:
    if text.startswith("holdout-"):
        assert holdout_bucket(text.removeprefix("holdout-")) == pytest.approx(expected, abs=1e-12)
    else:
        key, _, who = text.partition(".")
        assert bucket(key, who) == pytest.approx(expected, abs=1e-12)


def test_rollout_and_variants_worked_examples() -> None:
    variants = {"variants": [{"key": "control", "rollout_percentage": 33},
                             {"key": "test-a", "rollout_percentage": 33},
                             {"key": "test-b", "rollout_percentage": 34}]}  # fmt: skip
    defs = defs_of(
        flag("beta-feature", {"rollout_percentage": 50}),
        {**flag("checkout-test", {"rollout_percentage": 100}, multivariate=variants)},
    )
    assert [value(defs, "beta-feature", f"user-{i}") for i in (1, 2, 4)] == [False, False, True]
    assert value(defs, "checkout-test", "user-42") == "test-b"


def test_holdout_group_flag_and_device_bucketing() -> None:
    defs = defs_of(
        flag("h", {"rollout_percentage": 100}, holdout={"id": 7, "exclusion_percentage": 20}),
        flag("group-flag", {"rollout_percentage": 50}, aggregation_group_type_index=0),
        {**flag("device-flag", {"rollout_percentage": 50}), "bucketing_identifier": "device_id"},
        group_type_mapping={"0": "company"},
    )
    assert value(defs, "h", "user-1") == "holdout-7"
    assert value(defs, "h", "user-4") is True
    for company, expected in (("acme-inc", True), ("globex", True), ("initech", False)):
        groups, props = {"company": company}, {"company": {"$group_key": company}}
        assert value(defs, "group-flag", "u", groups=groups, group_properties=props) is expected
    assert value(defs, "group-flag", "u") is False  # without its group: False, not remote
    assert value(defs, "device-flag", "u", device_id="dev-A") is False
    with pytest.raises(Undecided) as undecided:
        value(defs, "device-flag", "u")
    assert undecided.value.reason == "missing_context"


def test_inconclusive_condition_then_a_later_match() -> None:
    defs = defs_of(
        flag("beta-feature",
             {"properties": [{"key": "email", "operator": "icontains", "value": "@x"}],
              "rollout_percentage": 100},
             {"rollout_percentage": 50}),
        flag("static", {"properties": [{"type": "cohort", "key": "id", "value": 9}]},
             {"rollout_percentage": 100}),
    )  # fmt: skip
    assert value(defs, "beta-feature", "user-4") is True
    with pytest.raises(Undecided) as undecided:
        value(defs, "beta-feature", "user-1")
    assert not undecided.value.server
    with pytest.raises(Undecided) as undecided:
        value(defs, "static", "user-1")  # a static cohort stops the flag: the server decides
    assert undecided.value.server


def test_cohorts_nested_and_negated() -> None:
    cohorts = {
        "1": {"type": "OR", "values": [{"key": "a", "value": 1, "type": "person"},
                                       {"key": "b", "value": 2, "type": "person"}]},
        "2": {"type": "AND", "values": [{"type": "cohort", "key": "id", "value": 1,
                                         "negation": True}]},
    }  # fmt: skip
    cond = {"properties": [{"type": "cohort", "key": "id", "value": 2}]}
    defs = defs_of(flag("c", cond), cohorts=cohorts)
    assert value(defs, "c", "u", {"a": 0, "b": 0}) is True
    assert value(defs, "c", "u", {"a": 1}) is False
    with pytest.raises(Undecided):
        value(defs, "c", "u", {"a": 0})


def test_dependencies_and_cycles() -> None:
    dep = {"type": "flag", "key": "base", "operator": "flag_evaluates_to", "value": True}
    defs = defs_of(
        flag("base", {"rollout_percentage": 100}),
        flag("child", {"properties": [{**dep, "dependency_chain": ["base"]}]}),
        flag("circular", {"properties": [{**dep, "dependency_chain": []}]}),
    )
    assert value(defs, "child", "u") is True
    with pytest.raises(Undecided) as undecided:
        value(defs, "circular", "u")
    assert undecided.value.reason == "unsupported_definition"


def test_malformed_definitions_never_raise(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "posthog_web.flags")
    defs = defs_of(
        flag("bad-rollout", {"rollout_percentage": "fifty"}),
        {"key": "bad-filters", "active": True, "filters": {"groups": "nope"}},
        {"key": 5},
        flag("fine", {"rollout_percentage": 100}),
    )
    assert sorted(defs.by_key) == ["bad-filters", "bad-rollout", "fine"]
    for key in ("bad-rollout", "bad-filters"):
        with pytest.raises(Undecided) as undecided:
            value(defs, key, "u")
        assert undecided.value.server
    assert value(defs, "fine", "u") is True
    assert "'bad-rollout' cannot be evaluated locally" in caplog.text
    with pytest.raises(Malformed):
        Definitions.from_json({"flags": "no"})


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_official_consistency_vectors(name: str) -> None:
    vector = VECTORS[name]
    defs = defs_of(*vector["flags"])
    key = vector["flags"][0]["key"]
    got = [value(defs, key, f"distinct_id_{i}") for i in range(1000)]
    assert got == vector["results"]


def test_flags_that_always_go_remote_are_logged_once_at_load(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "posthog_web.flags")
    raw = [
        {**flag("continuity", {"rollout_percentage": 100}), "ensure_experience_continuity": True},
        flag("bad-regex", {"properties": [{"key": "a", "operator": "regex", "value": r"\bx"}]}),
        flag("static", {"properties": [{"type": "cohort", "key": "id", "value": 77}]}),
        flag("unknown-op", {"properties": [{"key": "a", "operator": "is_date_exact", "value": 1}]}),
    ]
    for _ in range(3):
        defs_of(*raw)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert len(messages) == 4
    assert (
        "INFO",
        "posthog-web: feature flag 'continuity' cannot be evaluated locally: "
        "experience continuity is on (the server keeps variants through login)",
    ) in messages
    assert any(level == "WARNING" and "'bad-regex'" in m for level, m in messages)
    assert any(level == "INFO" and "cohort 77 is static" in m for level, m in messages)
    assert any(level == "WARNING" and "unknown operator 'is_date_exact'" in m
               for level, m in messages)  # fmt: skip


def test_a_dependency_cycle_is_undecided_not_a_recursion_error() -> None:
    def depends_on(key: str, other: str) -> dict[str, Any]:
        dep = {"type": "flag", "key": other, "operator": "flag_evaluates_to", "value": True,
               "dependency_chain": [other]}  # fmt: skip
        return flag(key, {"properties": [dep]})

    defs = defs_of(depends_on("a", "b"), depends_on("b", "a"))
    for key in ("a", "b"):
        with pytest.raises(Undecided):
            value(defs, key, "u")
