"""A real uvicorn process stopped with SIGTERM sends what was queued (lifespan flush)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER
from tests.core.helpers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"uvicorn exited early with {process.returncode}")
        try:
            requests.head(url, timeout=1)  # HEAD: the middleware leaves it alone
            return
        except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
            time.sleep(0.05)
    raise AssertionError(f"uvicorn did not serve {url} within {timeout} s")


def test_sigterm_flushes_queued_events_through_lifespan(inbox: InboxServer) -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.asgi.uvicorn_app:app",
            "--port",
            str(port),
            "--lifespan",
            "on",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "POSTHOG_HOST": inbox.url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_until_serving(url, process, timeout=20)
        response = requests.get(url, headers=BROWSER, timeout=5)
        assert response.status_code == 200
        assert "ph_web_id" in response.cookies
        time.sleep(0.2)
        assert inbox.events() == []  # queued, not sent yet

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
        assert process.returncode == 0, output.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    events = {e["event"]: e for e in inbox.events()}
    assert sorted(e["event"] for e in inbox.events()) == ["$pageview", "home_served"]
    assert events["$pageview"]["properties"]["$current_url"] == url
    assert events["$pageview"]["distinct_id"] == events["home_served"]["distinct_id"]
