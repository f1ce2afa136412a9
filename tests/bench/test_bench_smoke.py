"""The benchmark harness runs: every piece on a tiny count, no timing asserted.

The peers (posthog-python, OpenTelemetry) live only in bench/.venv; here their parts
are skipped, and run when the suite itself runs from that environment.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from bench import (
    breakdown,
    client_bench,
    delivery_bench,
    machine,
    memory_bench,
    requests_bench,
    sender_bench,
    server_bench,
    targets,
)
from bench.inbox_process import InboxProcess

pytestmark = pytest.mark.slow

HAS_POSTHOG = importlib.util.find_spec("posthog") is not None


@pytest.fixture(scope="module")
def inbox() -> Iterator[InboxProcess]:
    with InboxProcess() as process:
        yield process


def test_requests_every_variant_answers_and_posthog_web_records_only_pages(
    inbox: InboxProcess, django_db_blocker: Any
) -> None:
    # Django's request signals check connections that earlier tests may have opened.
    with django_db_blocker.unblock():
        results = requests_bench.measure_requests(
            inbox.url, rounds=1, n={"Starlette": 6, "Django": 6}
        )
    for (framework, scenario, variant), cell in results.cells.items():
        assert cell.status == 200, (framework, scenario, variant)
        assert len(cell.cpu_us) == 1
        if variant == "posthog_web":
            expected = 1.0 if scenario in ("page", "page_new") else 0.0
            assert cell.events_per_request == expected, (framework, scenario)
        if variant == "lower_bound":
            assert cell.events_per_request == 1.0
    variants = {variant for _, _, variant in results.cells}
    assert {"bare", "lower_bound", "posthog_web"} <= variants
    assert ("ph_capture" in variants) == HAS_POSTHOG
    assert "posthog-web" in requests_bench.report(results)
    assert "Django `page`" in targets.check(results, None, None)


@pytest.mark.parametrize("framework", ["Starlette", "Django"])
def test_breakdown_takes_each_part_away(framework: str, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        rows = breakdown.measure(framework, "page", rounds=1, n=5)
    labels = [label for label, _ in rows]
    assert labels[:4] == [
        "bare app (CPU µs per request)",
        "posthog-web overhead, sender included",
        "of which the sender thread (JSON, gzip, POST)",
        "of which the request thread",
    ]
    assert "- posthog-js cookie: percent-decoding, JSON, checks" in labels
    assert ("- the request view: ASGI headers decoded" in labels) == (framework == "Starlette")


def test_sender_bench_reads_the_sender_threads_cpu(inbox: InboxProcess) -> None:
    results = sender_bench.measure(inbox.url, ["posthog_web"], n=20, rounds=1, chunk=10)
    assert {kind for _, kind in results} == set(sender_bench.KINDS)
    assert all(len(values) == 1 for values in results.values())
    assert "posthog_web" in sender_bench.report(results, ["posthog_web"])
    calls = sender_bench.measure_calls(inbox.url, ["posthog_web"], n=20, rounds=1, flush_at=None)
    assert len(calls["posthog_web"]) == 1


def test_client_calls(inbox: InboxProcess) -> None:
    results = client_bench.measure_calls(inbox.url, rounds=1, n=20)
    assert set(results.call_us) >= {"floor", "floor_json", "posthog_web"}
    assert ("posthog_python" in results.call_us) == HAS_POSTHOG
    assert "Client.capture()" in client_bench.report(results)


def test_delivery_counts_what_the_inbox_stored(inbox: InboxProcess) -> None:
    libraries = ("posthog-web", "posthog-python") if HAS_POSTHOG else ("posthog-web",)
    runs = delivery_bench.measure_delivery(
        inbox, rounds=1, n=300, libraries=libraries, in_process=True
    )
    for run in runs:
        assert run["delivered"] == 300
        assert run["dropped"] == 0
    assert "delivered events/s" in delivery_bench.report(runs)
    assert "delivered events/s" in targets.check(None, None, runs)


def test_memory_with_the_server_down() -> None:
    run = memory_bench.run_subprocess("posthog-web", multiple=1)
    assert run["bytes_per_event"] > 0
    assert run["dropped"] > 0  # the cap held
    assert "bytes per queued event" in memory_bench.report([run])


def test_real_servers() -> None:
    result = server_bench.measure_servers(
        rounds=1,
        duration=1,
        connections=2,
        targets=("uvicorn Starlette bare", "uvicorn Starlette posthog-web"),
    )
    assert [run["errors"] for run in result["runs"]] == [0, 0]
    assert all(run["rps"] > 0 for run in result["runs"])
    assert result["events_stored"] > 0
    assert "requests/s" in server_bench.report(result)


def test_machine_and_versions() -> None:
    text = machine.describe()
    assert "nproc" in text
    assert "posthog-web" in text
