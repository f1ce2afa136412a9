"""Any flags file either loads (and the engine evaluates it) or is refused with a
FlagsFileError: never another exception (hypothesis, the fixed profile)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web.inbox.flags import InboxFlags
from posthog_web.inbox.flags_file import FlagsFileError, load_flags

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 150)
    | st.floats(allow_nan=True)
    | st.text(max_size=8)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["key", "active", "rollout", "variants", "payloads", "properties", "conditions", "id",
     "variant", "operator", "value", "type", "filters", "flags", "cohorts"]
)  # fmt: skip
# Objects made of the format's own field names, so the checks deep inside are reached.
SHAPED = st.recursive(
    JSON,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(FIELDS | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=30,
)


def _load(data: Any) -> None:
    try:
        body = load_flags(data)
    except FlagsFileError:
        return
    flags = InboxFlags(body)
    answer = flags.flags_answer({"distinct_id": "u", "person_properties": {"plan": "pro"}})
    assert set(answer["flags"]) == {flag["key"] for flag in body["flags"]}


@given(SHAPED)
def test_any_value_loads_or_is_refused_with_a_named_error(data: Any) -> None:
    _load(data)


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5), st.dictionaries(FIELDS, SHAPED, max_size=4), max_size=3
    )
)
def test_any_flag_object_loads_or_is_refused(data: Any) -> None:
    _load(data)


@pytest.mark.parametrize(
    "case",
    [
        {"a": {"conditions": [{"variant": []}], "variants": {"x": 100}}},
        {"a": {"payloads": {"true": object()}}},
        {"a": {"payloads": {"true": float("nan")}}},
        {"a": {"variants": {1: 100}}},
    ],
)
def test_python_values_that_json_cannot_hold_are_refused(case: Any) -> None:
    with pytest.raises(FlagsFileError, match=r"flags\['a'\]"):
        load_flags(case)


_SERVED = InboxFlags(
    {
        "new-checkout": {"variants": {"control": 50, "test": 50}, "payloads": {"test": [1]}},
        "pro": {"properties": [{"key": "plan", "operator": "icontains", "value": "pro"}]},
        "on": True,
    }
)
REQUEST_FIELDS = st.sampled_from(
    ["distinct_id", "$distinct_id", "person_properties", "$properties", "groups",
     "group_properties", "device_id", "$device_id", "flag_keys", "flag_keys_to_evaluate",
     "disable_flags"]
)  # fmt: skip


@given(JSON | st.dictionaries(REQUEST_FIELDS, SHAPED, max_size=6))
def test_any_flags_request_gets_an_answer(body: Any) -> None:
    answer = _SERVED.flags_answer(body)
    assert set(answer["flags"]) <= {"new-checkout", "pro", "on"}
    assert answer["featureFlags"] == {
        key: record["variant"] or record["enabled"] for key, record in answer["flags"].items()
    }


def test_a_raw_answer_may_leave_out_its_empty_parts() -> None:
    # Found by the hypothesis test above: {"cohorts": None} loaded as a body without "flags".
    body = load_flags({"cohorts": None})
    assert body["flags"] == []
    assert body["cohorts"] == body["group_type_mapping"] == {}
    _load({"cohorts": None})
