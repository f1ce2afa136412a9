"""The flood limit: a token bucket per fingerprint per minute, the held-back count sent on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture, ExceptionOptions
from posthog_web.errors.floods import FloodGate
from tests.errors.helpers import raised


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def bad_deploy(user: int) -> None:
    raise ValueError("column missing")


def failing(user: int) -> ValueError:
    try:
        bad_deploy(user)
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def test_a_burst_is_capped_per_minute_and_the_count_rides_on_the_next_event() -> None:
    clock = Clock()
    capture = ExceptionCapture(ExceptionOptions(flood_limit=3), clock=clock)
    sent = [capture.build(failing(user), handled=False) for user in range(10)]
    kept = [props for props in sent if props is not None]
    assert len(kept) == 3
    assert all(ev.PROP_EXCEPTION_SUPPRESSED not in props for props in kept)
    clock.now += 20  # a third of a minute: one token back
    props = capture.build(failing(11), handled=False)
    assert props is not None
    assert props[ev.PROP_EXCEPTION_SUPPRESSED] == 7
    assert capture.build(failing(12), handled=False) is None
    clock.now += 60
    again = [capture.build(failing(user), handled=False) for user in range(5)]
    assert sum(props is not None for props in again) == 3
    assert again[0] is not None
    assert again[0][ev.PROP_EXCEPTION_SUPPRESSED] == 1


def test_fingerprints_have_their_own_buckets() -> None:
    capture = ExceptionCapture(ExceptionOptions(flood_limit=1), clock=Clock())
    assert capture.build(failing(1), handled=False) is not None
    assert capture.build(failing(2), handled=False) is None
    assert capture.build(raised(KeyError("other")), handled=False) is not None


def test_line_numbers_do_not_change_the_fingerprint_but_functions_do() -> None:
    capture = ExceptionCapture(ExceptionOptions(flood_limit=1), clock=Clock())

    def first(other_line: bool) -> ValueError:
        try:
            if other_line:
                bad_deploy(0)
            else:
                bad_deploy(0)
        except ValueError as exc:
            return exc
        raise AssertionError

    def second() -> ValueError:
        try:
            bad_deploy(0)
        except ValueError as exc:
            return exc
        raise AssertionError

    assert capture.build(first(False), handled=False) is not None
    assert capture.build(first(True), handled=False) is None
    assert capture.build(second(), handled=False) is not None


def test_memory_is_bounded() -> None:
    gate = FloodGate(per_minute=1, max_fingerprints=100, clock=Clock())
    for index in range(10_000):
        gate.admit(f"fp-{index}")
    assert len(gate) == 100
    assert gate.admit("fp-9999") is None
    assert gate.admit("fp-0") == 0  # forgotten, so it starts afresh


@pytest.mark.parametrize("field", ["flood_limit", "flood_fingerprints", "max_frames"])
def test_limits_are_validated(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ExceptionOptions(**{field: 0})


FORK_SCRIPT = """
import os
from posthog_web.errors.floods import FloodGate
gate = FloodGate(per_minute=1, max_fingerprints=10, clock=lambda: 0.0)
assert gate.admit("fp") == 0
assert gate.admit("fp") is None
pid = os.fork()
if pid == 0:
    os._exit(0 if gate.admit("fp") == 0 else 1)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, "the child's bucket was not full"
assert gate.admit("fp") is None
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_worker_starts_with_full_buckets() -> None:
    # In a subprocess: forking pytest itself, with its threads, is not safe.
    subprocess.run([sys.executable, "-c", FORK_SCRIPT], check=True, timeout=60)


def not_found(user: int) -> LookupError:
    try:
        raise LookupError(f"user {user} not found")
    except LookupError as exc:
        return exc


def test_messages_do_not_split_a_raised_exception_s_bucket() -> None:
    # PostHog's fingerprint leaves the message out when there is a stack: so does ours.
    capture = ExceptionCapture(ExceptionOptions(flood_limit=3), clock=Clock())
    sent = [capture.build(not_found(user), handled=False) for user in range(6)]
    assert [props is not None for props in sent] == [True] * 3 + [False] * 3
