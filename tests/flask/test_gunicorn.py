"""Flask under a real gunicorn (sync and gthread workers): SIGTERM sends what was queued,
a raising route's $exception included."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VISITORS = 6


def _wait_for_url(process: subprocess.Popen[str], log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(r"Listening at: (http://\S+)", log.read_text())
        if found and "Booting worker" in log.read_text():
            return found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{log.read_text()}")
        time.sleep(0.05)
    raise AssertionError(f"gunicorn did not start within {timeout} s:\n{log.read_text()}")


def _gunicorn(inbox: InboxServer, log: Path, worker_args: list[str]) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                "127.0.0.1:0",
                *worker_args,
                "tests.flask.gunicorn_app:app",
            ],
            cwd=ROOT,
            env={**os.environ, "POSTHOG_HOST": inbox.url},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.mark.parametrize(
    "worker_args",
    [
        pytest.param(["--worker-class", "sync", "--workers", "2"], id="sync"),
        pytest.param(["--worker-class", "gthread", "--threads", "4", "--preload"], id="gthread"),
    ],
)
def test_sigterm_flushes_every_workers_queue(
    inbox: InboxServer, tmp_path: Path, worker_args: list[str]
) -> None:
    log = tmp_path / "gunicorn.log"
    process = _gunicorn(inbox, log, worker_args)
    try:
        url = _wait_for_url(process, log, timeout=30)
        for _ in range(VISITORS):
            response = requests.get(url + "/", headers=BROWSER, timeout=10)  # a new visitor each
            assert response.status_code == 200
            assert "ph_web_id" in response.cookies
        time.sleep(0.3)
        assert inbox.events() == []  # queued in the workers, not sent yet

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        assert process.returncode == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    views = inbox.events("$pageview")
    served = inbox.events("home_served")
    assert len(views) == len(served) == VISITORS
    assert {v["properties"]["title"] for v in views} == {"served by gunicorn"}
    assert {v["distinct_id"] for v in views} == {e["distinct_id"] for e in served}
    assert len({v["distinct_id"] for v in views}) == VISITORS


def test_a_raising_route_is_answered_500_and_sent_on_the_visitor(
    inbox: InboxServer, tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    process = _gunicorn(inbox, log, ["--worker-class", "sync", "--workers", "1"])
    try:
        url = _wait_for_url(process, log, timeout=30)
        browser = requests.Session()
        assert browser.get(url + "/", headers=BROWSER, timeout=10).status_code == 200
        failed = browser.get(url + "/checkout", headers=BROWSER, timeout=10)
        assert failed.status_code == 500  # Flask's own 500 page
        assert "Internal Server Error" in failed.text
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        assert process.returncode == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    assert "CheckoutError: the payment provider is down" in log.read_text()  # Flask's log
    [view] = inbox.events("$pageview")
    [event] = inbox.events("$exception")
    props = event["properties"]
    assert event["distinct_id"] == view["distinct_id"]
    assert props["$session_id"] == view["properties"]["$session_id"]
    assert props["$response_status"] == 500
    assert props["route"] == "/checkout"
    [entry] = props["$exception_list"]
    assert (entry["type"], entry["value"]) == ("CheckoutError", "the payment provider is down")
    assert entry["stacktrace"]["frames"][-1]["function"] == "checkout"
