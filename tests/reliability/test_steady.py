"""Steady load on every server setup: each page view arrives once; under --preload, the fork."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import (
    MASTER_EVENT,
    SERVERS,
    InboxProcess,
    Load,
    ServerProcess,
    answered,
    report,
    running,
    wait_for_all,
)

pytestmark = pytest.mark.slow

REQUESTS = 300


@pytest.mark.parametrize(
    "server",
    [
        "gunicorn-sync",
        "gunicorn-sync-preload",
        "gunicorn-gthread",
        "gunicorn-gthread-preload",
        "uvicorn-2",
    ],
)
def test_every_page_view_arrives_once(
    server: str, inbox_process: InboxProcess, tmp_path: Path
) -> None:
    kind = SERVERS[server]
    app = ServerProcess(kind, inbox_process, tmp_path).start()
    with running(app):
        results = Load(app.url, 0, REQUESTS, tmp_path).run()
        expected = answered(results)
        got = wait_for_all(inbox_process, expected)
        by_worker = app.pids_by_request()
    master_events = inbox_process.events(MASTER_EVENT)
    served = {
        pid: sum(1 for n in expected if by_worker.get(n) == pid) for pid in set(by_worker.values())
    }
    report(
        "--preload fork" if kind.preload else "steady load",
        server,
        results,
        got,
        workers=sorted(served.values()),
        master_events=len(master_events),
    )
    assert len(expected) == REQUESTS
    assert (got.lost, got.double_counted, got.duplicates) == (0, 0, 0)
    if kind.gunicorn:
        assert set(by_worker) >= expected
    if kind.gunicorn and "sync" in server:
        # Sync workers close every connection, so both take requests; none lost any.
        assert len(served) == 2, served
    if kind.preload:
        # Queued in the master right before the fork: sent once, by the master alone.
        assert len(master_events) == 1
