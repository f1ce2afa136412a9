"""PostHog down, failing, rate limiting or hanging under load: nothing is lost.

The apps run with ``max_retries=1`` and a 1-2 s timeout, so every fault window is longer
than the retry budget and the spool does the work.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from tests.reliability.harness import (
    SERVERS,
    InboxProcess,
    Load,
    ServerProcess,
    answered,
    latency_ms,
    report,
    running,
    wait_for_all,
)

pytestmark = pytest.mark.slow


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _spooled(app: ServerProcess) -> int:
    """Events the app's log says went to the spool."""
    return sum(int(n) for n in re.findall(r"posthog-web spooled (\d+) event", app.output(None)))


def _wait_for_spooling(app: ServerProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _spooled(app) == 0:
        assert time.monotonic() < deadline, f"nothing was spooled:\n{app.output()}"
        time.sleep(0.2)


@pytest.mark.parametrize("server", ["gunicorn-gthread", "uvicorn-2"])
def test_inbox_stopped_mid_load_then_restarted(
    server: str, inbox_process: InboxProcess, tmp_path: Path
) -> None:
    app = ServerProcess(SERVERS[server], inbox_process, tmp_path).start()
    with running(app):
        load = Load(app.url, 0, 600, tmp_path, rate=40).start()  # 15 s
        started = time.monotonic()
        _sleep_until(started + 3)
        inbox_process.stop()
        _sleep_until(started + 13)  # down for 10 s: several retry budgets
        inbox_process.start()
        results = load.results()
        expected = answered(results)
        got = wait_for_all(inbox_process, expected)
        spooled = _spooled(app)
    report("PostHog stopped for 10 s mid-load", server, results, got, spooled=spooled)
    assert len(expected) == len(results)
    assert spooled > 0
    assert (got.lost, got.double_counted) == (0, 0)


def test_inbox_answers_503_then_429_with_retry_after(
    inbox_process: InboxProcess, tmp_path: Path
) -> None:
    app = ServerProcess(SERVERS["gunicorn-sync"], inbox_process, tmp_path).start()
    with running(app):
        load = Load(app.url, 0, 480, tmp_path, rate=40).start()  # 12 s
        started = time.monotonic()
        _sleep_until(started + 2)
        inbox_process.faults({"reset": True, "fail_window": {"seconds": 4, "status": 503}})
        _sleep_until(started + 6)
        inbox_process.faults(
            {"fail_window": {"seconds": 4, "status": 429, "headers": {"Retry-After": "2"}}}
        )
        results = load.results()
        expected = answered(results)
        got = wait_for_all(inbox_process, expected)
        spooled = _spooled(app)
    report(
        "503 for 4 s, then 429 + Retry-After: 2 for 4 s",
        "gunicorn-sync",
        results,
        got,
        spooled=spooled,
    )
    assert spooled > 0
    assert (got.lost, got.double_counted) == (0, 0)


def test_inbox_hanging_does_not_slow_the_app(inbox_process: InboxProcess, tmp_path: Path) -> None:
    app = ServerProcess(SERVERS["gunicorn-gthread"], inbox_process, tmp_path, timeout=2.0)
    app.start()
    with running(app):
        healthy = Load(app.url, 0, 300, tmp_path, rate=50).run()
        inbox_process.faults({"reset": True, "hang_next": {"n": 100_000, "seconds": 3}})
        hanging = Load(app.url, 1000, 300, tmp_path, rate=50).run()
        _wait_for_spooling(app)
        inbox_process.faults({"reset": True})
        expected = answered(healthy) | answered(hanging)
        got = wait_for_all(inbox_process, expected)
        spooled = _spooled(app)
    base_p50, base_p99 = latency_ms(healthy)
    p50, p99 = latency_ms(hanging)
    report(
        "PostHog hanging (accepts, never answers)",
        "gunicorn-gthread",
        healthy + hanging,
        got,
        spooled=spooled,
        healthy_p50_ms=round(base_p50, 1),
        healthy_p99_ms=round(base_p99, 1),
        hanging_p50_ms=round(p50, 1),
        hanging_p99_ms=round(p99, 1),
    )
    assert len(expected) == 600
    # Generous: a request that waited for delivery would take the 2 s timeout at least.
    assert p99 < 1500, (base_p99, p99)
    assert (got.lost, got.double_counted) == (0, 0)


@pytest.mark.parametrize("server", ["gunicorn-sync", "uvicorn-2"])
def test_sigterm_while_down_then_restart_sends_the_spool(
    server: str, inbox_process: InboxProcess, tmp_path: Path
) -> None:
    kind = SERVERS[server]
    app = ServerProcess(kind, inbox_process, tmp_path).start()
    with running(app):
        load = Load(app.url, 0, 400, tmp_path, rate=50).start()  # 8 s, cut short by the stop
        started = time.monotonic()
        _sleep_until(started + 2)
        inbox_process.stop()
        _sleep_until(started + 5)
        stopping = time.monotonic()
        code = app.stop(signal.SIGTERM)
        stop_seconds = time.monotonic() - stopping
        results = load.results()
    expected = answered(results)
    files = app.spooled_files()
    assert code == 0, app.output()
    assert files, "nothing was left in the spool"
    inbox_process.start()
    again = ServerProcess(kind, inbox_process, tmp_path).start()
    with running(again):
        # The first page views start the senders, which send the spool first.
        after = Load(again.url, 10_000, 20, tmp_path).run()
        got = wait_for_all(inbox_process, expected | answered(after))
    report(
        "SIGTERM while PostHog is down, restart once it is back",
        server,
        results + after,
        got,
        stop_seconds=round(stop_seconds, 1),
        spool_files=len(files),
    )
    assert len(expected) > 100
    assert stop_seconds < 30
    assert (got.lost, got.double_counted) == (0, 0)
