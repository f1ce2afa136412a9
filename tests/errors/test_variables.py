"""Opt-in code variables: per in-app frame, from each exception's own traceback, masked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture, ExceptionOptions
from tests.errors.helpers import build_valid, frames_of, raised


def variables_by_function(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["function"]: f.get("code_variables", {}) for f in frames_of(entry)}


def parse_amount(raw: str) -> int:
    api_token = "tok_live_0123456789"
    count = 3
    ratio = 0.5
    flag = True
    nothing = None
    return int(raw) + count + int(ratio) + int(flag) + (nothing or 0) + len(api_token)


def checkout(order: dict[str, str]) -> int:
    user_password = "hunter2"
    try:
        return parse_amount(order["amount"])
    except ValueError as exc:
        raise RuntimeError(f"checkout failed ({len(user_password)})") from exc


@pytest.fixture
def capture() -> ExceptionCapture:
    return ExceptionCapture(ExceptionOptions(capture_code_variables=True))


def test_off_by_default() -> None:
    with pytest.raises(RuntimeError) as info:
        checkout({"amount": "x"})
    entries = build_valid(ExceptionCapture(), info.value)[ev.PROP_EXCEPTION_LIST]
    assert all("code_variables" not in frame for e in entries for frame in frames_of(e))


def test_each_exception_gets_its_own_frames_variables(capture: ExceptionCapture) -> None:
    with pytest.raises(RuntimeError) as info:
        checkout({"amount": "12.5x"})
    outer, cause = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST]
    outer_vars = variables_by_function(outer)["checkout"]
    assert outer_vars["order"] == "{'amount': '12.5x'}"
    assert "raw" not in outer_vars
    cause_vars = variables_by_function(cause)
    assert cause_vars["parse_amount"]["raw"] == "'12.5x'"
    assert cause_vars["parse_amount"]["count"] == 3
    assert cause_vars["parse_amount"]["ratio"] == 0.5
    assert cause_vars["parse_amount"]["flag"] is True
    assert cause_vars["parse_amount"]["nothing"] is None
    assert "order" not in cause_vars["parse_amount"]
    assert cause_vars["checkout"]["order"] == "{'amount': '12.5x'}"


def test_secret_looking_names_are_masked(capture: ExceptionCapture) -> None:
    with pytest.raises(RuntimeError) as info:
        checkout({"amount": "x"})
    outer, cause = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST]
    assert variables_by_function(outer)["checkout"]["user_password"] == "[masked]"
    assert variables_by_function(cause)["parse_amount"]["api_token"] == "[masked]"


@pytest.mark.parametrize(
    "name",
    ["password", "Authorization", "session_key", "csrftoken", "SECRET_KEY", "cookie_jar", "dsn"],
)
def test_default_masked_names(name: str) -> None:
    reader = ExceptionCapture(ExceptionOptions(capture_code_variables=True))._variables
    assert reader is not None
    assert reader.is_masked(name)
    assert not reader.is_masked("amount")


def test_a_configured_name_is_masked_too() -> None:
    capture = ExceptionCapture(
        ExceptionOptions(capture_code_variables=True, masked_variable_names=["iban"])
    )

    def pay() -> None:
        customer_iban = "DE89370400440532013000"
        raise ValueError(len(customer_iban))

    with pytest.raises(ValueError) as info:
        pay()
    entry = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0]
    assert variables_by_function(entry)["pay"]["customer_iban"] == "[masked]"


def test_each_value_and_the_total_are_capped() -> None:
    capture = ExceptionCapture(
        ExceptionOptions(
            capture_code_variables=True, max_variable_chars=40, max_variables_chars=200
        )
    )

    def big() -> None:
        huge = "x" * 100_000
        many = list(range(100_000))
        more = {f"k{i}": i for i in range(1000)}
        raise ValueError(len(huge) + len(many) + len(more))

    def outer() -> None:
        also = "y" * 1000
        try:
            big()
        except ValueError as exc:
            raise KeyError(len(also)) from exc

    with pytest.raises(KeyError) as info:
        outer()
    entries = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST]
    shown = [
        value
        for entry in entries
        for frame in frames_of(entry)
        for value in frame.get("code_variables", {}).values()
    ]
    assert shown
    assert all(len(str(value)) <= 40 for value in shown)
    total = sum(
        len(name) + len(str(value))
        for entry in entries
        for frame in frames_of(entry)
        for name, value in frame.get("code_variables", {}).items()
    )
    assert total <= 200


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_repr_that_raises_is_shown_as_such(capture: ExceptionCapture) -> None:
    def fail() -> None:
        thing = Unprintable()
        raise ValueError(id(thing))

    with pytest.raises(ValueError) as info:
        fail()
    entry = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0]
    assert "Unprintable" in variables_by_function(entry)["fail"]["thing"]


def test_only_in_app_frames_and_no_dunder_names(capture: ExceptionCapture) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads("{")
    for frame in frames_of(build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0]):
        if not frame["in_app"]:
            assert "code_variables" not in frame
        for name in frame.get("code_variables", {}):
            assert not name.startswith("__")


def test_no_variables_for_a_raised_exception_without_in_app_frames() -> None:
    capture = ExceptionCapture(ExceptionOptions(capture_code_variables=True, in_app=["shop"]))
    entry = build_valid(capture, raised(ValueError("x")))[ev.PROP_EXCEPTION_LIST][0]
    assert all("code_variables" not in frame for frame in frames_of(entry))
