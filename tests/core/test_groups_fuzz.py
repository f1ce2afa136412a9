"""Hypothesis: any groups value is either accepted as sendable JSON or refused clearly."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from posthog_web.events import encode_json
from posthog_web.groups import MAX_GROUP_KEY_LENGTH, validate_groups

_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=410),
    st.lists(st.integers(), max_size=2),
)


@given(st.one_of(_values, st.dictionaries(st.one_of(st.text(max_size=5), st.integers()), _values)))
def test_groups_are_sendable_or_refused_naming_the_field(value: Any) -> None:
    try:
        checked = validate_groups(value)
    except (TypeError, ValueError) as exc:
        message = str(exc)
    else:
        message = ""
        encode_json(checked)
        for kind, key in checked.items():
            assert kind.strip()
            assert key.strip()
            assert len(key) <= MAX_GROUP_KEY_LENGTH
    if message:
        assert "groups" in message
