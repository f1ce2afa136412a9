"""Celery: tasks published in a request run on the visitor's person, session and groups.

``posthog_web.celery.setup(app)`` connects to Celery's own signals (no monkeypatching).
Publishing a task inside a request (or inside a task) puts the visitor's distinct id,
session id and groups in the message headers, under the names posthog-python's Celery
integration uses, so either side reads the other's; in the worker,
:func:`posthog_web.current` captures on that person and session. See docs/background.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from contextvars import Token
from typing import Any

from celery import Celery, signals  # type: ignore[import-untyped]

from posthog_web.client import Client
from posthog_web.events import PROP_GROUPS
from posthog_web.web.background import detached_helper
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, RequestHelper, bind, current, unbind

__all__ = [
    "HEADER_CONTEXT_TAGS",
    "HEADER_DISTINCT_ID",
    "HEADER_PERSONLESS",
    "HEADER_SESSION_ID",
    "setup",
    "teardown",
]

logger = logging.getLogger(__name__)

HEADER_DISTINCT_ID = "X-POSTHOG-DISTINCT-ID"
HEADER_SESSION_ID = "X-POSTHOG-SESSION-ID"
# posthog-python merges these tags into every event; the groups ride there as $groups.
HEADER_CONTEXT_TAGS = "X-POSTHOG-CONTEXT-TAGS"
# Ours alone: the visitor was personless, so the task's events are too.
HEADER_PERSONLESS = "X-POSTHOG-WEB-PERSONLESS"

_STATE = "_posthog_web"


class _Integration:
    def __init__(self, client: Client | None, lifecycle_events: bool, capture_exceptions: bool):
        self.client = client
        self.lifecycle_events = lifecycle_events
        self.capture_exceptions = capture_exceptions

    # --- the producer -------------------------------------------------------------

    def before_publish(self, headers: dict[str, Any] | None = None, **_: Any) -> None:
        helper = current()
        if headers is None or isinstance(helper, NoopHelper):
            return
        with guarded("adding PostHog headers to a Celery task"):
            values: dict[str, Any] = {HEADER_DISTINCT_ID: helper.distinct_id}
            session_id = helper.session_id
            if session_id is not None:
                values[HEADER_SESSION_ID] = session_id
            groups = helper.groups
            if groups:
                values[HEADER_CONTEXT_TAGS] = json.dumps({PROP_GROUPS: groups})
            if not helper.is_identified:
                values[HEADER_PERSONLESS] = "1"
            headers.update(values)
            # celery#4875: only the nested headers reach task.request in the worker.
            nested = headers.setdefault("headers", {})
            if isinstance(nested, dict):
                nested.update(values)

    def after_publish(self, headers: dict[str, Any] | None = None, **_: Any) -> None:
        helper = current()
        if self.lifecycle_events and not isinstance(helper, NoopHelper) and headers:
            with guarded("celery task published"):
                helper.capture("celery task published", _task_properties(headers))

    # --- the worker ---------------------------------------------------------------

    def prerun(self, task_id: str = "", task: Any = None, **_: Any) -> None:
        if task is None:
            return
        with guarded("starting a Celery task"):
            request = task.request
            headers = _headers(request)
            distinct_id = headers.get(HEADER_DISTINCT_ID)
            client = self.client
            if not isinstance(distinct_id, str) or client is None:
                return
            helper = detached_helper(
                client,
                distinct_id=distinct_id,
                session_id=_str_or_none(headers.get(HEADER_SESSION_ID)),
                groups=_groups(headers.get(HEADER_CONTEXT_TAGS)),
                personless=headers.get(HEADER_PERSONLESS) == "1",
            )
            state = (bind(helper), helper, time.monotonic())
            setattr(request, _STATE, state)
            if self.lifecycle_events:
                helper.capture("celery task started", _task_properties_of(task, task_id))

    def postrun(self, task_id: str = "", task: Any = None, state: Any = None, **_: Any) -> None:
        if task is None:
            return
        saved = getattr(task.request, _STATE, None)
        if saved is None:
            return
        token, helper, started = saved
        setattr(task.request, _STATE, None)
        with guarded("finishing a Celery task"):
            if self.lifecycle_events and state == "SUCCESS":
                props = _task_properties_of(task, task_id)
                props["celery_task_duration_ms"] = round((time.monotonic() - started) * 1000)
                helper.capture("celery task success", props)
        _unbind(token)

    def failure(
        self,
        task_id: str = "",
        exception: BaseException | None = None,
        sender: Any = None,
        **_: Any,
    ) -> None:
        if sender is None or exception is None:
            return
        saved = getattr(sender.request, _STATE, None)
        helper = saved[1] if saved else None
        client = self.client
        if client is None:
            return
        with guarded("capturing a Celery task failure"):
            props = _task_properties_of(sender, task_id)
            if self.lifecycle_events and helper is not None:
                failed = dict(props, error_type=type(exception).__name__)
                helper.capture("celery task failure", failed)
            if self.capture_exceptions:
                if helper is not None and helper.session_id is not None:
                    props["$session_id"] = helper.session_id
                client.capture_exception(
                    exception,
                    distinct_id=helper.distinct_id if helper is not None else None,
                    properties=props,
                    handled=False,
                    groups=helper.groups if helper is not None else None,
                )


def _unbind(token: Token[RequestHelper | None]) -> None:
    try:
        unbind(token)
    except ValueError:  # created in another context (a pool that switches them)
        logger.debug("posthog-web: the Celery task's helper was bound in another context")


def _headers(request: Any) -> Mapping[str, Any]:
    nested = getattr(request, "headers", None)
    if isinstance(nested, Mapping) and HEADER_DISTINCT_ID in nested:
        return nested
    return {
        key: getattr(request, key, None)
        for key in (HEADER_DISTINCT_ID, HEADER_SESSION_ID, HEADER_CONTEXT_TAGS, HEADER_PERSONLESS)
    }


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _groups(tags: object) -> dict[str, str] | None:
    if not isinstance(tags, str):
        return None
    try:
        groups = json.loads(tags).get(PROP_GROUPS)
    except (ValueError, AttributeError):
        return None
    return groups if isinstance(groups, dict) else None


def _task_properties(headers: Mapping[str, Any]) -> dict[str, Any]:
    return {"celery_task_id": headers.get("id"), "celery_task_name": headers.get("task")}


def _task_properties_of(task: Any, task_id: str) -> dict[str, Any]:
    return {"celery_task_id": task_id, "celery_task_name": getattr(task, "name", None)}


_connected: list[_Integration] = []


def setup(
    celery_app: Celery,
    client: Client | None = None,
    *,
    lifecycle_events: bool = False,
    capture_exceptions: bool = True,
) -> None:
    """Carry the visitor into Celery tasks published by ``celery_app``'s producers.

    Args:
        celery_app: the Celery application (its signals are Celery's global ones).
        client: the client the worker sends with. None: the worker sends nothing
            (producers still add the headers), so pass one in the worker process.
        lifecycle_events: send ``celery task published``, ``started``, ``success`` and
            ``failure`` events (off by default: each costs an event per task).
        capture_exceptions: send ``$exception`` for a failing task (needs ``client``).
    """
    if not isinstance(celery_app, Celery):
        raise TypeError(f"celery_app must be a celery.Celery, not {type(celery_app).__name__}")
    if client is not None and not isinstance(client, Client):
        raise TypeError(f"client must be a posthog_web.Client, not {type(client).__name__}")
    teardown()  # setup() again replaces the earlier one
    integration = _Integration(client, bool(lifecycle_events), bool(capture_exceptions))
    _connected.append(integration)
    signals.before_task_publish.connect(integration.before_publish, weak=False)
    signals.after_task_publish.connect(integration.after_publish, weak=False)
    signals.task_prerun.connect(integration.prerun, weak=False)
    signals.task_postrun.connect(integration.postrun, weak=False)
    signals.task_failure.connect(integration.failure, weak=False)


def teardown() -> None:
    """Disconnect what :func:`setup` connected (tests, or a process leaving Celery)."""
    for integration in _connected:
        _disconnect(integration)
    _connected.clear()


def _disconnect(integration: _Integration) -> None:
    signals.before_task_publish.disconnect(integration.before_publish)
    signals.after_task_publish.disconnect(integration.after_publish)
    signals.task_prerun.disconnect(integration.prerun)
    signals.task_postrun.disconnect(integration.postrun)
    signals.task_failure.disconnect(integration.failure)
