"""PostHog down for the whole run: the server's memory stays bounded.

Without a spool the queue grows to ``max_queue_size`` and stops there (new events are
dropped and counted); with a spool the queue goes to disk every flush interval, so
memory stays flat, and every event arrives once PostHog is back.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.reliability.harness import (
    SERVERS,
    InboxProcess,
    Load,
    ServerProcess,
    Tally,
    answered,
    report,
    rss_kib,
    running,
    wait_for_all,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

CAP = 2000
WARM, FILL, PAST = 300, 1700, 2000  # PAST twice: the second must add nothing


def _rss_after(app: ServerProcess, load: Load, results: list[tuple[int, int, float]]) -> int:
    results += load.run()
    time.sleep(1.0)  # let the sender take what was just queued
    return rss_kib(app.worker_pids()[0])


@pytest.mark.parametrize("spool", [False, True], ids=["memory", "spool"])
def test_rss_is_bounded_while_posthog_is_down(spool: bool, tmp_path: Path) -> None:
    down = InboxProcess(tmp_path)  # its port: nothing listens there until the end
    app = ServerProcess(
        SERVERS["uvicorn-1"],
        down,
        tmp_path,
        spool=spool,
        # Without a spool, a long retry budget keeps the first batch (and the queue) in memory.
        max_retries=1 if spool else 50,
        max_queue_size=CAP,
    )
    app.start()
    with running(app):
        url = app.url
        results: list[tuple[int, int, float]] = []
        base = _rss_after(app, Load(url, 0, WARM, tmp_path), results)
        at_cap = _rss_after(app, Load(url, WARM, FILL, tmp_path), results)
        past = _rss_after(app, Load(url, WARM + FILL, PAST, tmp_path), results)
        end = _rss_after(app, Load(url, WARM + FILL + PAST, PAST, tmp_path), results)
        got = Tally(set(), {}, 0)
        if spool:
            down.start()
            got = wait_for_all(down, answered(results))
        down.stop()
    per_event = (at_cap - base) * 1024 / FILL
    report(
        "PostHog down the whole run" + (" (spool)" if spool else ""),
        "uvicorn-1",
        results,
        got,
        rss_base_kib=base,
        rss_at_cap_kib=at_cap,
        rss_past_cap_kib=past,
        rss_end_kib=end,
        bytes_per_queued_event=round(per_event),
        max_queue_size=CAP,
        note=(
            "PostHog back at the end: all spooled events sent"
            if spool
            else f"PostHog never back: {CAP} events held, the rest dropped (queue full)"
        ),
    )
    assert len(answered(results)) == WARM + FILL + 2 * PAST
    # Past the cap nothing more is held (generous allowances for allocator noise).
    assert past - at_cap < 8 * 1024, (base, at_cap, past, end)
    assert end - past < 4 * 1024, (base, at_cap, past, end)
    if spool:
        assert at_cap - base < 8 * 1024, (base, at_cap, past, end)
        assert (got.lost, got.double_counted) == (0, 0)
    else:
        # One queued event costs about its encoded size (~1 KB) plus the deque slot.
        assert 200 < per_event < 8000, per_event
