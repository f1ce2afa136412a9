"""posthog-web's local evaluation against posthog-python 7.91.1's, on seeded cases.

Every case compares the outcome class (a value, or undecided: remote) and the value;
the property grid compares the undecided reason too. Divergences: docs/flags.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import posthog.version
import pytest
from freezegun import freeze_time
from posthog.feature_flags import InconclusiveMatchError, match_property

from posthog_web import Client
from posthog_web.flags.definitions import Definitions
from posthog_web.flags.local import evaluate, payload_key
from posthog_web.flags.properties import compile_property
from posthog_web.flags.reasons import Undecided
from tests.flags.generate import FROZEN_NOW, OPERATORS, VALUES, Generator
from tests.flags.oracle import SERVER, UNDECIDED, Oracle, prepared

CALL_ONLY_VALUES: list[Any] = [
    dt.datetime(2024, 1, 1),
    dt.date(2023, 5, 1),
    dt.datetime(2026, 3, 30, tzinfo=dt.timezone.utc),
    1700000000,  # a unix timestamp: undecided on both sides
    float("nan"),
    float("inf"),
    10**400,
    ("a",),
    {"b": [1, 2.5]},
]
ABSENT = object()


@pytest.fixture(autouse=True)
def _frozen_quiet() -> Iterator[None]:
    logging.disable(logging.CRITICAL)
    try:
        with freeze_time(FROZEN_NOW):
            yield
    finally:
        logging.disable(logging.NOTSET)


def test_the_oracle_is_the_pinned_version() -> None:
    assert posthog.version.VERSION == "7.91.1"


def _oracle_property(prop: dict[str, Any], props: dict[str, Any], version: int) -> Any:
    try:
        return match_property(prop, props, version)
    except InconclusiveMatchError as undecided:
        return ("undecided", undecided.reason.value)


def _ours(matcher: Any, props: dict[str, Any]) -> Any:
    try:
        return matcher(props)
    except Undecided as undecided:
        return ("undecided", undecided.reason)


@pytest.mark.parametrize("version", [1, 2])
def test_every_operator_by_every_value_type(version: int) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    for operator, filter_value in itertools.product(OPERATORS, VALUES):
        prop: dict[str, Any] = {"key": "k", "value": filter_value, "type": "person"}
        if operator is not None:
            prop["operator"] = operator
        matcher = compile_property(prop, version)
        for call_value in [*VALUES, *CALL_ONLY_VALUES, ABSENT]:
            props = {} if call_value is ABSENT else {"k": call_value}
            expected = _oracle_property(prop, props, version)
            assert _ours(matcher, props) == expected, (operator, filter_value, call_value)
            outcomes[str(expected)] += 1
    # The grid exercises every outcome, not only the undecided ones.
    assert outcomes["True"] > 10_000
    assert outcomes["False"] > 10_000
    assert outcomes["('undecided', 'missing_context')"] > 1000
    assert outcomes["('undecided', 'unsupported_definition')"] > 1000


def _our_flag(defs: Definitions, key: str, call: dict[str, Any]) -> Any:
    try:
        return evaluate(
            defs,
            defs.by_key[key],
            call["distinct_id"],
            call["person_properties"],
            call["groups"],
            call["group_properties"],
            call["device_id"],
        )
    except Undecided as undecided:
        return (SERVER if undecided.server else UNDECIDED, undecided.reason)


def test_generated_flags_agree_with_posthog_python() -> None:
    oracle = Oracle()
    outcomes: collections.Counter[str] = collections.Counter()
    for seed in range(600):
        generator = Generator(seed)
        raw = generator.definitions()
        oracle.load(raw)
        defs = Definitions.from_json(raw)
        for _ in range(10):
            call = prepared(generator.call())
            for raw_flag in raw["flags"]:
                # A value, or which kind of undecided (the server only, or this
                # condition) and why.
                expected = oracle.evaluate(raw_flag, call)
                got = _our_flag(defs, raw_flag["key"], call)
                assert (type(got), got) == (type(expected), expected), (seed, raw_flag, call)
                if not isinstance(expected, tuple):
                    ours = defs.by_key[raw_flag["key"]].payloads.get(payload_key(got))
                    assert ours == oracle.payload(raw_flag["key"], expected)
                kind = (
                    "variant" if isinstance(expected, str) and expected != UNDECIDED else expected
                )
                outcomes[str(kind)] += 1
    assert sum(outcomes.values()) == 36_000
    # Every kind of outcome is well represented, not only the undecided ones.
    for kind in ("True", "False", "variant"):
        assert outcomes[kind] > 2000, outcomes
    assert sum(n for kind, n in outcomes.items() if "<server>" in kind) > 1000, outcomes
    assert sum(n for kind, n in outcomes.items() if "<undecided>" in kind) > 5000, outcomes


def test_the_public_methods_agree_with_posthog_python() -> None:
    # The whole path: argument preprocessing ($group_key, distinct_id), payload lookup
    # and encoding, the bulk getters' shape.
    oracle = Oracle().client
    ours = Client("phc_oracle", host="http://127.0.0.1:9")
    compared = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for seed in range(150):
            generator = Generator(10_000 + seed)
            raw = generator.definitions()
            Oracle.load_into(oracle, raw)
            ours.flags.set_definitions(raw)
            for _ in range(5):
                call = generator.call()
                args: dict[str, Any] = {
                    "person_properties": call["person_properties"],
                    "groups": call["groups"],
                    "group_properties": call["group_properties"],
                    "only_evaluate_locally": True,
                }
                did = call["distinct_id"]
                expected = oracle.get_all_flags_and_payloads(did, **args)
                assert ours.get_all_flags_and_payloads(distinct_id=did, **args) == expected
                for raw_flag in raw["flags"]:
                    key = raw_flag["key"]
                    assert ours.get_feature_flag(
                        key, distinct_id=did, send_event=False, **args
                    ) == (oracle.get_feature_flag(key, did, send_feature_flag_events=False, **args))
                    assert ours.get_feature_flag_payload(key, distinct_id=did, **args) == (
                        oracle.get_feature_flag_payload(key, did, **args)
                    )
                    compared += 1
    ours.shutdown(timeout=0.1)
    assert compared == 150 * 5 * 6
