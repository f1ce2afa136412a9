"""The inbox's error tracking: $exception parsed as cymbal does, or kept with its warnings."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from posthog_web.inbox import InboxServer
from posthog_web.inbox.exceptions import (
    exception_problems,
    fingerprint,
    is_in_app,
    process_exception,
)
from tests.inbox.helpers import batch, make_event


def frame(function: str, **extra: Any) -> dict[str, Any]:
    base = {
        "platform": "python",
        "filename": "shop/views.py",
        "abs_path": "/srv/app/shop/views.py",
        "module": "shop.views",
        "function": function,
        "lineno": 10,
        "in_app": True,
    }
    base.update(extra)
    return base


def exception(type_: str = "ValueError", value: str = "bad", frames: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": type_,
        "value": value,
        "mechanism": {"type": "generic", "handled": False, "synthetic": False},
    }
    if frames is not None:
        entry["stacktrace"] = {"type": "raw", "frames": frames}
    return entry


GOOD = {"$exception_list": [exception(frames=[frame("checkout")])], "$exception_level": "error"}


def post(inbox: InboxServer, properties: dict[str, Any]) -> dict[str, Any]:
    event = make_event("$exception", properties=copy.deepcopy(properties))
    answer = requests.post(f"{inbox.url}/batch/", json=batch(event), timeout=5)
    assert answer.status_code == 200
    [stored] = inbox.wait_for_events(1, event="$exception")
    inbox.clear()
    return stored["properties"]


def test_a_good_exception_gets_cymbals_output_properties(inbox: InboxServer) -> None:
    props = post(inbox, {**GOOD, "$exception_types": ["forged"], "$cymbal_errors": ["x"]})
    assert "$cymbal_errors" not in props
    assert props["$exception_types"] == ["ValueError"]
    assert props["$exception_values"] == ["bad"]
    assert props["$exception_functions"] == ["checkout"]
    assert props["$exception_sources"] == ["shop/views.py"]
    assert props["$exception_handled"] is False
    assert props["$exception_fingerprint"] == props["$exception_proposed_fingerprint"]
    assert len(props["$exception_fingerprint"]) == 128


def test_a_manual_fingerprint_wins_and_long_ones_are_hashed(inbox: InboxServer) -> None:
    assert post(inbox, {**GOOD, "$exception_fingerprint": "mine"})["$exception_fingerprint"] == (
        "mine"
    )
    long = "k" * 65
    props = post(inbox, {**GOOD, "$exception_fingerprint": long})
    assert props["$exception_fingerprint"] == hashlib.sha512(long.encode()).hexdigest()


@pytest.mark.parametrize(
    ("properties", "problem"),
    [
        ({}, "missing field `$exception_list`"),
        ({"$exception_list": []}, "Empty exception list"),
        ({"$exception_list": {"type": "X"}}, "not an array"),
        ({"$exception_list": ["X"]}, "[0] is not an object"),
        ({"$exception_list": [{"value": "no type"}]}, "[0].type is missing"),
        ({"$exception_list": [exception(value=5)]}, "[0].value is not a string"),  # type: ignore[arg-type]
        ({"$exception_list": [{**exception(), "mechanism": "x"}]}, "mechanism is not an object"),
        (
            {"$exception_list": [{**exception(), "mechanism": {"handled": "no"}}]},
            "mechanism.handled is not a boolean",
        ),
        (
            {"$exception_list": [{**exception(), "stacktrace": {"type": "cooked", "frames": []}}]},
            "must be 'raw' or 'resolved'",
        ),
        (
            {"$exception_list": [exception(frames=[{"filename": "a"}])]},
            "platform 'None' is unknown",
        ),
        (
            {"$exception_list": [exception(frames=[{"platform": "python", "function": "f"}])]},
            "filename is missing",
        ),
        ({"$exception_list": [exception(frames=[frame("f", lineno=-1)])]}, "lineno is out of"),
        ({"$exception_list": [exception(frames=[frame("f", lineno=True)])]}, "not an integer"),
        ({"$exception_list": [exception(frames=[frame("f", in_app="yes")])]}, "in_app"),
        ({"$exception_list": [exception(frames=[frame("f", pre_context="x")])]}, "pre_context"),
        (
            {"$exception_list": [exception(frames=[frame("f", code_variables=[1])])]},
            "code_variables is not an object",
        ),
        ({**GOOD, "$exception_level": "critical"}, "$exception_level"),
    ],
)
def test_what_cymbal_cannot_parse_is_kept_with_its_warnings(
    inbox: InboxServer, properties: dict[str, Any], problem: str
) -> None:
    assert any(problem in text for text in exception_problems(properties))
    props = post(inbox, properties)
    assert any(problem in text for text in props["$cymbal_errors"])
    assert "$exception_fingerprint" not in props


def test_other_platforms_are_accepted_without_python_checks() -> None:
    js = {"platform": "web:javascript", "colno": 4}
    assert exception_problems({"$exception_list": [exception(frames=[js])]}) == []


def test_the_fingerprint_ignores_messages_with_a_stack_and_line_numbers() -> None:
    one = [exception(value="user 1", frames=[frame("checkout", lineno=10)])]
    two = [exception(value="user 2", frames=[frame("checkout", lineno=99)])]
    other = [exception(value="user 1", frames=[frame("pay")])]
    assert fingerprint(one) == fingerprint(two) != fingerprint(other)
    stackless_a, stackless_b = [exception(value="a")], [exception(value="b")]
    assert fingerprint(stackless_a) != fingerprint(stackless_b)


def test_library_frames_do_not_count_unless_there_are_no_app_frames() -> None:
    lib = frame("get", abs_path="/v/lib/python3.11/site-packages/requests/api.py", in_app=None)
    app = frame("checkout")
    assert fingerprint([exception(frames=[lib, app])]) == fingerprint([exception(frames=[app])])
    lib_only = [exception(frames=[lib])]
    other_lib = [exception(frames=[{**lib, "function": "post"}])]
    assert fingerprint(lib_only) != fingerprint(other_lib)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"in_app": None}, True),
        ({"in_app": False}, False),
        ({"abs_path": "/x/dist-packages/a.py"}, False),
        ({"abs_path": "/usr/lib/python3.11/json/decoder.py", "filename": "json/decoder.py"}, False),
        ({"abs_path": "<frozen runpy>", "filename": "<frozen runpy>"}, False),
        ({"abs_path": None, "filename": "", "module": "asyncio.events"}, False),
        ({"abs_path": None, "filename": "", "module": "shop.views"}, True),
    ],
)
def test_in_app_demotion(changes: dict[str, Any], expected: bool) -> None:
    assert is_in_app(frame("f", **changes)) is expected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=10,
)


unhashable = st.lists(st.integers(), max_size=2) | st.dictionaries(
    st.text(max_size=2), st.integers(), max_size=2
)
json_values = json_values | unhashable


def shaped(required: dict[str, Any], optional: dict[str, Any]) -> Any:
    """Dicts with the ``required`` keys and some ``optional`` ones (each a strategy); the
    parametrized cases above cover containers of the wrong kind."""
    return st.fixed_dictionaries(required, optional=optional)


frames = shaped(
    {
        "platform": st.sampled_from(["python", "web:javascript", "cobol"]) | json_values,
        "filename": json_values | st.just("shop/views.py"),
        "function": json_values | st.just("f"),
    },
    {
        "abs_path": json_values | st.just("/x/site-packages/a.py"),
        "module": json_values,
        "lineno": json_values | st.integers(-2, 2**33),
        "in_app": json_values,
        "pre_context": json_values | st.lists(st.text(max_size=3), max_size=2),
        "code_variables": json_values,
    },
)
stacktraces = shaped(
    {
        "type": st.sampled_from(["raw", "resolved"]) | json_values,
        "frames": st.lists(frames, min_size=1, max_size=3),
    },
    {},
)
exceptions = shaped(
    {"type": json_values | st.just("ValueError"), "stacktrace": stacktraces},
    {
        "value": json_values,
        "module": json_values,
        "thread_id": json_values,
        "mechanism": shaped({}, {"handled": json_values, "type": json_values}),
    },
)


@settings(max_examples=300)
@given(
    exception_list=st.lists(exceptions, min_size=1, max_size=3),
    level=json_values | st.sampled_from(["error", "fatal"]),
    fingerprint_value=json_values,
)
def test_any_json_is_processed_without_crashing(
    exception_list: Any, level: Any, fingerprint_value: Any
) -> None:
    props = {
        "$exception_list": exception_list,
        "$exception_level": level,
        "$exception_fingerprint": fingerprint_value,
    }
    process_exception(props)
    assert ("$cymbal_errors" in props) != ("$exception_fingerprint" in props)
    json.dumps(props)
