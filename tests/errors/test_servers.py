"""Real servers: Django under gunicorn and FastAPI under uvicorn, a view that raises.

The inbox must get one ``$exception`` on the visitor's person and session, and the
visitor the server's own 500, as without posthog-web.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER
from tests.core.helpers import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def serving(argv: list[str], inbox: InboxServer, port: int) -> Iterator[str]:
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, "POSTHOG_HOST": inbox.url, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise AssertionError(f"the server exited early: {output}")
            try:
                requests.head(url, timeout=1)  # HEAD: never a page view
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                if time.monotonic() > deadline:
                    raise AssertionError(f"nothing served {url} within 30 s") from None
                time.sleep(0.05)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=10)


def check_one_exception(inbox: InboxServer, url: str, path: str, body: str) -> None:
    with requests.Session() as browser:
        browser.headers.update(BROWSER)
        assert browser.get(f"{url}/", timeout=5).status_code == 200
        response = browser.get(f"{url}{path}?token=s3cret", timeout=5)
    assert response.status_code == 500
    assert body in response.text  # the server's own 500 page, unchanged
    [pageview] = inbox.wait_for_events(1, timeout=15, event="$pageview")
    [event] = inbox.wait_for_events(1, timeout=15, event="$exception")
    props = event["properties"]
    assert event["distinct_id"] == pageview["distinct_id"]
    assert props["$process_person_profile"] is True  # on the visitor's person
    assert props["$session_id"] == pageview["properties"]["$session_id"]
    assert props["$exception_types"] == ["CheckoutError"]
    assert props["$response_status"] == 500
    assert "s3cret" not in str(event)
    time.sleep(0.3)  # nothing else arrives (one event, not one per layer)
    assert len(inbox.events("$exception")) == 1


def test_django_under_gunicorn(inbox: InboxServer) -> None:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--config",
        str(ROOT / "tests" / "reliability" / "gunicorn_conf.py"),
        "tests.errors.server_django:application",
    ]
    with serving(argv, inbox, port) as url:
        check_one_exception(inbox, url, "/orders/7/", "Server Error (500)")


def test_fastapi_under_uvicorn(inbox: InboxServer) -> None:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.errors.server_fastapi:app",
        "--port",
        str(port),
        "--log-level",
        "critical",
    ]
    with serving(argv, inbox, port) as url:
        check_one_exception(inbox, url, "/orders/7", "Internal Server Error")
