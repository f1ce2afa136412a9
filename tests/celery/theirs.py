"""A worker app running posthog-python's Celery integration, on the test broker directory."""

from __future__ import annotations

import os

import posthog
from celery import Celery
from posthog.integrations.celery import PosthogCeleryIntegration

_dir = os.environ["POSTHOG_TEST_BROKER_DIR"]
app = Celery("tests.celery.theirs")
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
client = posthog.Client("phc_test", host=os.environ["POSTHOG_TEST_INBOX"], sync_mode=True)
PosthogCeleryIntegration(
    client=client, capture_exceptions=False, capture_task_lifecycle_events=False
).instrument()


@app.task(name="send_welcome")
def send_welcome(to: str) -> None:
    client.capture("welcome email sent", properties={"to": to})


@app.task(name="fail")
def fail() -> None:
    raise ValueError("smtp down")
