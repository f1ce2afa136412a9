"""A real Celery worker (solo pool, filesystem broker) runs tasks published in a request.

The filesystem transport needs no server and, unlike the in-memory one, is shared by two
processes: the test (the producer, inside a Starlette request) and the worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER
from tests.inbox.helpers import wait_until

pytestmark = pytest.mark.slow


def test_task_published_in_a_request_runs_on_the_visitor(
    inbox: InboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_TEST_BROKER_DIR", str(tmp_path))
    from tests.celery import tasks

    producer = Client("phc_test", host=inbox.url, flush_interval=0.05)

    async def signup(request: Request) -> HTMLResponse:
        request.state.posthog.group("company", "acme")
        tasks.send_welcome.delay("ann@example.com")
        tasks.fail.delay()
        return HTMLResponse("<!doctype html><title>t</title>ok")

    app = Starlette(routes=[Route("/signup", signup)])
    app.add_middleware(PostHogMiddleware, client=producer)
    with TestClient(app, headers=BROWSER) as http:
        http.get("/signup")
    assert producer.flush(timeout=10)
    view = inbox.events("$pageview")[0]

    env = dict(os.environ, POSTHOG_TEST_BROKER_DIR=str(tmp_path), POSTHOG_TEST_INBOX=inbox.url)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery.tasks",
            "worker",
            "-P",
            "solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        wait_until(
            lambda: bool(inbox.events("welcome email sent")) and bool(inbox.events("$exception")),
            timeout=60,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        log.close()
        producer.shutdown(timeout=2)
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()
    sent: dict[str, Any] = inbox.events("welcome email sent")[0]
    assert sent["distinct_id"] == view["distinct_id"]
    assert sent["properties"]["$session_id"] == view["properties"]["$session_id"]
    assert sent["properties"]["$groups"] == {"company": "acme"}
    assert sent["properties"]["$process_person_profile"] is False  # an anonymous visitor
    assert sent["properties"]["to"] == "ann@example.com"
    exc = inbox.events("$exception")[0]
    assert exc["distinct_id"] == view["distinct_id"]
    assert exc["properties"]["$exception_list"][0]["type"] == "ValueError"
    assert exc["properties"]["$groups"] == {"company": "acme"}
    assert exc["properties"]["celery_task_name"] == "fail"
    assert not inbox.events("celery task started")  # lifecycle events are off by default
