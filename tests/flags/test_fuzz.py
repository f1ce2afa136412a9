"""Arbitrary definitions and calls: loading and evaluating never raise into the app."""

from __future__ import annotations

import logging
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.evaluator import FlagEvaluator
from posthog_web.flags.local import evaluate
from posthog_web.flags.model import Malformed
from posthog_web.flags.reasons import Undecided

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=True),
    st.sampled_from(["exact", "regex", "(", "in", "AND", "OR", "flag_evaluates_to", "cohort",
                     "flag", "person", "1", "0", "a", "v", "-7d", "1.2.3", ""]),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["key", "value", "operator", "type", "values", "properties", "rollout_percentage",
         "variant", "negation", "dependency_chain", "groups", "multivariate", "variants",
         "aggregation_group_type_index", "holdout", "payloads", "id", "exclusion_percentage",
         "active", "filters", "early_exit", "feature_enrollment", "true"]), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
flag_dicts = st.fixed_dictionaries(
    {"key": st.sampled_from(["a", "b", "c"]), "active": st.booleans(), "filters": json_values}
)


@settings(max_examples=300)
@given(
    flags=st.lists(flag_dicts | json_values, max_size=4),
    cohorts=st.dictionaries(st.sampled_from(["1", "2"]), json_values, max_size=2),
    mapping=json_values,
    props=st.dictionaries(st.sampled_from(["key", "a", "value"]), json_values, max_size=3),
)
def test_arbitrary_definitions_never_raise(
    flags: list[Any], cohorts: dict[str, Any], mapping: Any, props: dict[str, Any]
) -> None:
    logging.disable(logging.CRITICAL)
    try:
        body = {"flags": flags, "cohorts": cohorts, "group_type_mapping": mapping}
        try:
            defs = Definitions.from_json(body)
        except Malformed:
            return
        person = {"distinct_id": "user-1", **props}
        group_props = {"company": {"$group_key": "x", **props}}
        for flag in defs.flags:
            try:  # the engine itself raises nothing but Undecided
                evaluate(defs, flag, "user-1", person, {"company": "x"}, group_props, "dev")
            except Undecided:
                pass
        evaluator = FlagEvaluator(
            host="http://127.0.0.1:9", api_key="phc_x", secret_key=None,
            poll_interval=30, timeout=1, network=False,
        )  # fmt: skip
        evaluator.set_definitions(body)
        for key in ("a", "b", "c"):
            result = evaluator.evaluate(key, "user-1", props, {"company": "x"}, {"company": props})
            assert result.value is None or isinstance(result.value, (bool, str))
        evaluator.evaluate_all("user-1", props, only_evaluate_locally=True)
    finally:
        logging.disable(logging.NOTSET)
