"""Sentry alongside: with both hooks installed, in either order, each gets the crash once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from posthog_web.inbox import InboxServer

pytest.importorskip("sentry_sdk")

SCRIPT = """
import os, sys
import sentry_sdk
from sentry_sdk.transport import Transport
from posthog_web import Client, capture_uncaught

class Recording(Transport):
    def capture_envelope(self, envelope):
        for item in envelope.items:
            event = item.get_event()
            if event and event.get("exception"):
                kinds = [v["type"] for v in event["exception"]["values"]]
                print("sentry got:", ",".join(kinds), file=sys.stderr, flush=True)

def start_sentry():
    # The transport records; nothing leaves the process.
    sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=Recording)

def start_posthog():
    capture_uncaught(Client("phc_test", host=os.environ["INBOX_URL"], flush_interval=60))

{order}

def handler():
    try:
        {{}}["missing"]
    except KeyError as exc:
        raise RuntimeError("crash") from exc

handler()
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "order", ["start_sentry()\nstart_posthog()", "start_posthog()\nstart_sentry()"]
)
def test_each_gets_the_uncaught_exception_once(inbox: InboxServer, order: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT.format(order=order))],
        env={**os.environ, "INBOX_URL": inbox.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("sentry got:") == 1, result.stderr
    assert "sentry got: KeyError,RuntimeError" in result.stderr  # Sentry: root cause first
    assert "RuntimeError: crash" in result.stderr
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["properties"]["$exception_types"] == ["RuntimeError", "KeyError"]
    assert len(inbox.events(event="$exception")) == 1
