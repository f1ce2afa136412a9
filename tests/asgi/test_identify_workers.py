"""Two real uvicorn processes, one browser: one ``$identify`` per login (issue 13 item 5).

The processes share nothing but the browser's cookies; each request goes to the other
one. Before the identify tag in the signed cookie, every request sent ``$identify``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER
from tests.asgi.test_uvicorn import _wait_until_serving
from tests.core.helpers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


Workers = tuple[list[str], Callable[[], None]]


@pytest.fixture
def workers(inbox: InboxServer) -> Iterator[Workers]:
    """The base URLs of two uvicorn processes of tests.asgi.identify_app, and ``stop``."""
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []

    def stop() -> None:
        for process in processes:  # SIGTERM: the lifespan shutdown flushes the queue
            process.send_signal(signal.SIGTERM)
        for process in processes:
            output, _ = process.communicate(timeout=20)
            # uvicorn re-raises SIGTERM once its shutdown (and the lifespan flush) is done.
            assert process.returncode in (0, -signal.SIGTERM), output.decode(errors="replace")

    try:
        for _ in range(2):
            port = free_port()
            command = [sys.executable, "-m", "uvicorn", "tests.asgi.identify_app:app"]
            command += ["--port", str(port), "--lifespan", "on", "--log-level", "warning"]
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, "POSTHOG_HOST": inbox.url},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            urls.append(f"http://127.0.0.1:{port}")
            _wait_until_serving(f"{urls[-1]}/", process, timeout=20)
        yield urls, stop
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


def test_one_identify_per_login_across_two_processes(workers: Workers, inbox: InboxServer) -> None:
    urls, stop = workers
    with requests.Session() as browser:
        browser.headers.update(BROWSER)
        for n in range(4):  # four pages, each with its stylesheet, alternating processes
            assert browser.get(f"{urls[n % 2]}/page/{n}", timeout=5).status_code == 200
            assert browser.get(f"{urls[(n + 1) % 2]}/style.css", timeout=5).ok
        for n in range(3):  # the person properties change once
            assert browser.get(f"{urls[n % 2]}/page/pro{n}?plan=pro", timeout=5).ok
    stop()  # both processes flush everything they queued before they exit
    views = inbox.events("$pageview")
    assert len(views) == 7
    assert {v["distinct_id"] for v in views} == {"ada"}
    # Each process sent a share of the page views, and between them one $identify
    # for the first properties and one for the changed ones.
    served_by = {v["properties"]["$current_url"].split("/")[2] for v in views}
    assert len(served_by) == 2
    assert sorted(e["$set"]["plan"] for e in inbox.events("$identify")) == ["free", "pro"]
