"""Fault injection, in process and over HTTP: failures, latency, hung and dropped requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from posthog_web.inbox import FaultInjector, InboxServer
from tests.inbox.helpers import batch, make_event, wait_until


def _send(inbox: InboxServer, name: str = "e", timeout: float = 5) -> requests.Response:
    return requests.post(inbox.url + "/batch/", json=batch(make_event(name)), timeout=timeout)


def test_fail_next_answers_the_status_and_headers_then_recovers(inbox: InboxServer) -> None:
    inbox.faults.fail_next(2, status=429, headers={"Retry-After": "1"})

    first, second, third = (_send(inbox, str(i)) for i in range(3))

    assert [r.status_code for r in (first, second, third)] == [429, 429, 200]
    assert first.headers["Retry-After"] == "1"
    assert first.json()["code"] == "injected_fault"
    assert [e["event"] for e in inbox.events()] == ["2"]
    assert [r.status for r in inbox.requests] == [429, 429, 200]
    assert inbox.requests[0].error == "injected fault: status 429"
    assert inbox.requests[0].received_at <= inbox.requests[2].received_at <= time.time()


def test_fail_window_fails_everything_until_it_ends(inbox: InboxServer) -> None:
    now = [100.0]
    inbox.faults = FaultInjector(clock=lambda: now[0])
    inbox.faults.fail_window(10, status=500, start=5)

    before = _send(inbox).status_code
    now[0] = 106.0
    during = [_send(inbox).status_code for _ in range(3)]
    now[0] = 116.0
    after = _send(inbox).status_code

    assert (before, during, after) == (200, [500, 500, 500], 200)
    assert inbox.faults.describe()["fail_window"] is None


def test_fail_window_in_real_time(inbox: InboxServer) -> None:
    inbox.faults.fail_window(0.3)

    assert _send(inbox).status_code == 503
    time.sleep(0.35)
    assert _send(inbox).status_code == 200


def test_fail_fraction_is_deterministic_for_a_seed(inbox: InboxServer) -> None:
    inbox.faults.fail_fraction(0.5, status=502, seed=7)
    first = [_send(inbox).status_code for _ in range(20)]
    inbox.faults.fail_fraction(0.5, status=502, seed=7)
    second = [_send(inbox).status_code for _ in range(20)]

    assert first == second
    assert set(first) == {200, 502}
    assert len(inbox.events()) == 2 * first.count(200)


def test_drop_fraction_drops_connections_deterministically() -> None:
    def pattern() -> list[str]:
        faults = FaultInjector()
        faults.drop_fraction(0.5, seed=3)
        return [getattr(faults.next_action(), "kind", "ok") for _ in range(20)]

    assert pattern() == pattern()
    assert set(pattern()) == {"ok", "drop"}


def test_delay_adds_latency(inbox: InboxServer) -> None:
    inbox.faults.delay(0.3)

    started = time.monotonic()
    response = _send(inbox)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.3
    assert inbox.faults.latency == 0.3


def test_drop_next_closes_the_connection_without_a_response(inbox: InboxServer) -> None:
    inbox.faults.drop_next(1)

    with pytest.raises(requests.ConnectionError):
        _send(inbox, "dropped")
    assert _send(inbox, "kept").status_code == 200

    assert [e["event"] for e in inbox.events()] == ["kept"]
    assert (inbox.requests[0].status, inbox.requests[0].error) == (0, "injected fault: drop")


def test_hang_next_with_seconds_closes_without_answering(inbox: InboxServer) -> None:
    inbox.faults.hang_next(1, seconds=0.2)

    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        _send(inbox, "hung")
    assert time.monotonic() - started >= 0.2
    assert inbox.events() == []


def test_hang_next_times_the_client_out(inbox: InboxServer) -> None:
    inbox.faults.hang_next(1)

    with pytest.raises(requests.ReadTimeout):
        _send(inbox, "hung", timeout=0.3)
    assert _send(inbox, "after").status_code == 200
    assert [e["event"] for e in inbox.events()] == ["after"]


def test_stop_releases_a_hanging_request() -> None:
    server = InboxServer().start()
    server.faults.hang_next(1)
    outcome: list[Any] = []

    def client() -> None:
        try:
            outcome.append(_send(server, timeout=30))
        except requests.RequestException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    wait_until(lambda: len(server.requests) == 1)
    started = time.monotonic()
    server.stop()
    thread.join(10)

    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    assert isinstance(outcome[0], requests.ConnectionError)
    server.stop()  # idempotent


def test_first_armed_fault_wins_in_the_documented_order() -> None:
    faults = FaultInjector()
    faults.fail_next(1, status=500)
    faults.hang_next(1, seconds=2)
    faults.drop_next(1)

    kinds = [faults.next_action() for _ in range(4)]

    assert [getattr(a, "kind", None) for a in kinds] == ["drop", "hang", "fail", None]
    assert kinds[1] is not None
    assert kinds[1].seconds == 2
    assert kinds[2] is not None
    assert kinds[2].status == 500


def test_reset_disarms_everything() -> None:
    faults = FaultInjector()
    faults.fail_next(5)
    faults.fail_window(60)
    faults.fail_fraction(1.0)
    faults.drop_fraction(1.0)
    faults.delay(1)
    faults.reset()

    assert faults.next_action() is None
    assert faults.describe() == {
        "drop_next": 0,
        "hang_next": 0,
        "fail_next": 0,
        "fail_window": None,
        "fail_fraction": 0.0,
        "drop_fraction": 0.0,
        "delay": 0.0,
    }


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("fail_next", (-1,)),
        ("fail_next", (True,)),
        ("fail_next", (1, 99)),
        ("fail_next", (1, 503, {"Retry-After": 1})),
        ("fail_window", (-1,)),
        ("fail_fraction", (1.5,)),
        ("drop_fraction", ("half",)),
        ("delay", (-0.1,)),
        ("hang_next", (1, -3)),
    ],
)
def test_bad_fault_arguments_raise_value_error(method: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(ValueError):
        getattr(FaultInjector(), method)(*args)


def test_faults_over_http(inbox: InboxServer) -> None:
    def configure(spec: Any) -> requests.Response:
        return requests.post(inbox.url + "/api/faults", json=spec, timeout=5)

    armed = configure({"fail_next": {"n": 1, "status": 503}, "delay": 0.01})
    assert armed.status_code == 200
    assert armed.json()["faults"]["fail_next"] == 1
    assert _send(inbox).status_code == 503
    assert _send(inbox).status_code == 200

    assert configure({"drop_next": 1}).ok
    with pytest.raises(requests.ConnectionError):
        _send(inbox)

    configure({"fail_window": {"seconds": 60, "status": 500}})
    window = requests.get(inbox.url + "/api/faults", timeout=5).json()["faults"]["fail_window"]
    assert window["status"] == 500
    assert window["ends_in"] > 50
    assert configure({"reset": True}).ok
    assert _send(inbox).status_code == 200

    configure({"hang_next": {"n": 1, "seconds": 0.1}, "fail_fraction": {"p": 0.0}})
    with pytest.raises(requests.ConnectionError):
        _send(inbox)


@pytest.mark.parametrize(
    "spec",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"explode": true}',
        b'{"fail_next": {"count": 1}}',
        b'{"fail_next": {"n": -1}}',
        b'{"fail_fraction": 2}',
    ],
)
def test_bad_fault_descriptions_over_http_are_400(inbox: InboxServer, spec: bytes) -> None:
    response = requests.post(inbox.url + "/api/faults", data=spec, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"]
