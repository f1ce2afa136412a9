"""posthog_web.celery in-process: setup's checks, tasks without a visitor, eager runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery

import posthog_web
import posthog_web.celery
from posthog_web.inbox import InboxServer
from posthog_web.web.helper import NoopHelper
from tests.core.helpers import MakeClient


@pytest.fixture
def app() -> Iterator[Any]:
    celery_app = Celery("tests.celery.test_setup", broker="memory://")
    celery_app.conf.task_ignore_result = True
    yield celery_app
    posthog_web.celery.teardown()


def test_setup_checks_its_arguments(app: Any) -> None:
    with pytest.raises(TypeError, match=r"celery_app must be a celery\.Celery"):
        posthog_web.celery.setup(object())
    with pytest.raises(TypeError, match=r"client must be a posthog_web\.Client"):
        posthog_web.celery.setup(app, client="phc_x")  # type: ignore[arg-type]


def test_a_task_without_a_visitor_has_no_helper_and_fails_personless(
    app: Any, make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    seen: list[Any] = []

    @app.task(name="look")
    def look() -> None:
        seen.append(posthog_web.current())

    @app.task(name="boom")
    def boom() -> None:
        raise KeyError("gone")

    posthog_web.celery.setup(app, client)
    posthog_web.celery.setup(app, client)  # again: replaces, does not double the handlers
    look.apply()
    boom.apply()
    assert isinstance(seen[0], NoopHelper)
    assert client.flush(timeout=10)
    exceptions = inbox.events("$exception")
    assert len(exceptions) == 1
    props = exceptions[0]["properties"]
    assert props["$process_person_profile"] is False
    assert props["celery_task_name"] == "boom"
    assert props["$exception_list"][0]["mechanism"]["handled"] is False


def test_eager_task_with_headers_runs_on_that_person(
    app: Any, make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()

    @app.task(name="welcome")
    def welcome() -> None:
        posthog_web.current().capture("welcome")

    posthog_web.celery.setup(app, client, lifecycle_events=True, capture_exceptions=False)
    headers = {
        posthog_web.celery.HEADER_DISTINCT_ID: "u5",
        posthog_web.celery.HEADER_SESSION_ID: "s5",
        posthog_web.celery.HEADER_CONTEXT_TAGS: '{"$groups": {"company": "acme"}}',
    }
    welcome.apply(headers=headers)
    assert client.flush(timeout=10)
    events = {e["event"]: e for e in inbox.events()}
    assert events["welcome"]["distinct_id"] == "u5"
    assert events["welcome"]["properties"]["$session_id"] == "s5"
    assert events["welcome"]["properties"]["$groups"] == {"company": "acme"}
    assert {"celery task started", "celery task success"} <= set(events)
    assert isinstance(posthog_web.current(), NoopHelper)  # unbound after the task
