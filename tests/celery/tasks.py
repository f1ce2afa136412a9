"""The Celery app of the worker test: a filesystem broker in POSTHOG_TEST_BROKER_DIR."""

from __future__ import annotations

import os
import tempfile

from celery import Celery

import posthog_web
import posthog_web.celery
from posthog_web import Client

# Read once, at the first import: the test process then hands the same directory to workers.
BROKER_DIR = os.environ.get("POSTHOG_TEST_BROKER_DIR") or tempfile.mkdtemp(prefix="ph-celery-")
_dir = BROKER_DIR
os.makedirs(os.path.join(_dir, "out"), exist_ok=True)

app = Celery("tests.celery.tasks")
app.conf.update(
    broker_url="filesystem://",
    broker_transport_options={
        "data_folder_in": os.path.join(_dir, "out"),
        "data_folder_out": os.path.join(_dir, "out"),
        # Kombu's default is ./control: the worker's broadcast mailboxes stay in the test's
        # directory, not the working tree.
        "control_folder": os.path.join(_dir, "control"),
    },
    task_ignore_result=True,
    worker_hijack_root_logger=False,
)

_inbox = os.environ.get("POSTHOG_TEST_INBOX")
# The worker sends at once (sync mode), so each event is at the inbox when the task ends.
client = Client("phc_test", host=_inbox, sync_mode=True) if _inbox else None
posthog_web.celery.setup(
    app, client, lifecycle_events=bool(os.environ.get("POSTHOG_TEST_LIFECYCLE"))
)


@app.task(name="send_welcome")
def send_welcome(to: str) -> None:
    posthog_web.current().capture("welcome email sent", {"to": to})


@app.task(name="fail")
def fail() -> None:
    raise ValueError("smtp down")
