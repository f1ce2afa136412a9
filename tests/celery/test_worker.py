"""A real Celery worker (solo pool, filesystem broker) runs tasks published in a request.

The filesystem transport needs no server and, unlike the in-memory one, is shared by two
processes: the test (the producer, inside a Starlette request) and the worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
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


def _run_worker(
    inbox: InboxServer,
    logs: Path,
    done: Callable[[], bool],
    app: str = "tests.celery.tasks",
    **env_extra: str,
) -> None:
    """Run a real worker until ``done()`` (at most 60 s), then stop it (at most 30 s)."""
    from tests.celery import tasks

    env = dict(os.environ, POSTHOG_TEST_BROKER_DIR=tasks.BROKER_DIR, POSTHOG_TEST_INBOX=inbox.url)
    env.update(env_extra)
    log_path = logs / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app,
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
            wait_until(done, timeout=60)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
    assert worker.returncode == 0, log_path.read_text()
    # The broker's mailboxes are in its own directory, not in the working tree.
    assert (Path(env["POSTHOG_TEST_BROKER_DIR"]) / "control").is_dir()


def test_task_published_in_a_request_runs_on_the_visitor(
    inbox: InboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTHOG_TEST_BROKER_DIR", str(tmp_path))  # if first imported here
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

    try:
        _run_worker(
            inbox,
            tmp_path,
            lambda: bool(inbox.events("welcome email sent")) and bool(inbox.events("$exception")),
        )
    finally:
        producer.shutdown(timeout=2)
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


def test_posthog_python_s_headers_are_read_and_lifecycle_events_sent(
    inbox: InboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A producer running posthog-python's Celery integration; our worker reads its headers."""
    import posthog
    from posthog.integrations.celery import PosthogCeleryIntegration

    monkeypatch.setenv("POSTHOG_TEST_BROKER_DIR", str(tmp_path))  # if first imported here
    from tests.celery import tasks

    theirs = posthog.Client("phc_test", host=inbox.url, sync_mode=True)
    integration = PosthogCeleryIntegration(
        client=theirs, capture_exceptions=False, capture_task_lifecycle_events=False
    )
    integration.instrument()
    try:
        with posthog.new_context(fresh=True, client=theirs):
            posthog.identify_context("user-9")
            posthog.set_context_session("019a0000-0000-7000-8000-000000000009")
            posthog.tag("$groups", {"company": "initech"})
            tasks.send_welcome.delay("bob@example.com")
    finally:
        integration.uninstrument()
        theirs.shutdown()
    _run_worker(
        inbox,
        tmp_path,
        lambda: bool(inbox.events("celery task success")),
        POSTHOG_TEST_LIFECYCLE="1",
    )
    sent = inbox.events("welcome email sent")[0]
    assert sent["distinct_id"] == "user-9"
    assert sent["properties"]["$session_id"] == "019a0000-0000-7000-8000-000000000009"
    assert sent["properties"]["$groups"] == {"company": "initech"}
    assert "$process_person_profile" not in sent["properties"]  # an identified person
    started = inbox.events("celery task started")[0]
    success = inbox.events("celery task success")[0]
    for event in (started, success):
        assert event["distinct_id"] == "user-9"
        assert event["properties"]["celery_task_name"] == "send_welcome"
    assert success["properties"]["celery_task_duration_ms"] >= 0


def test_posthog_python_s_worker_reads_our_headers(
    inbox: InboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our producer (a logged-in request), a worker running posthog-python's integration."""
    monkeypatch.setenv("POSTHOG_TEST_BROKER_DIR", str(tmp_path))  # if first imported here
    from tests.celery import tasks

    producer = Client("phc_test", host=inbox.url, flush_interval=0.05)

    async def signup(request: Request) -> HTMLResponse:
        request.state.posthog.login("user-7")
        request.state.posthog.group("company", "acme")
        tasks.send_welcome.delay("cy@example.com")
        return HTMLResponse("<!doctype html><title>t</title>ok")

    app = Starlette(routes=[Route("/signup", signup)])
    app.add_middleware(PostHogMiddleware, client=producer)
    with TestClient(app, headers=BROWSER) as http:
        http.get("/signup")
    try:
        assert producer.flush(timeout=10)
        view = inbox.events("$pageview")[0]
        _run_worker(
            inbox, tmp_path, lambda: bool(inbox.events("welcome email sent")), "tests.celery.theirs"
        )
    finally:
        producer.shutdown(timeout=2)
    sent = inbox.events("welcome email sent")[0]
    assert sent["distinct_id"] == "user-7"
    assert sent["properties"]["$session_id"] == view["properties"]["$session_id"]
    assert sent["properties"]["$groups"] == {"company": "acme"}  # the tag, merged by posthog
    assert sent["properties"]["$lib"] == "posthog-python"
