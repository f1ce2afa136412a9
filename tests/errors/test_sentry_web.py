"""Sentry alongside in a web app: both installed, each gets a failing view's exception once.

Sentry's integrations patch Django and Starlette for the whole process, so each case runs
in its own interpreter; Sentry's transport records, nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from posthog_web.inbox import InboxServer

pytest.importorskip("sentry_sdk")
pytestmark = pytest.mark.slow

SENTRY = """
import os, sys
import sentry_sdk
from sentry_sdk.transport import Transport

class Recording(Transport):
    def capture_envelope(self, envelope):
        for item in envelope.items:
            event = item.get_event()
            if event and event.get("exception"):
                kinds = [v["type"] for v in event["exception"]["values"]]
                print("sentry got:", ",".join(kinds), file=sys.stderr, flush=True)

class CheckoutError(RuntimeError):
    pass
"""

DJANGO = """
import django
from django.conf import settings
from django.urls import path
from sentry_sdk.integrations.django import DjangoIntegration

sentry_sdk.init(
    dsn="http://public@127.0.0.1:9/1", transport=Recording, integrations=[DjangoIntegration()]
)

def fail(request):
    raise CheckoutError("the view failed")

urlpatterns = [path("fail/", fail)]
settings.configure(
    DEBUG=False,
    SECRET_KEY="sentry-alongside",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF="__main__",
    INSTALLED_APPS=["posthog_web.django"],
    MIDDLEWARE=["posthog_web.django.PostHogMiddleware"],
    POSTHOG_WEB={"API_KEY": "phc_test", "HOST": os.environ["INBOX_URL"]},
)
django.setup()

from django.test import Client
from posthog_web.django.conf import get_config

status = Client(raise_request_exception=False).get("/fail/").status_code
print("status:", status, file=sys.stderr)
get_config().tracker.client.shutdown(timeout=10)
sentry_sdk.flush(timeout=5)
"""

STARLETTE = """
from fastapi import FastAPI
from fastapi.testclient import TestClient
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware

sentry_sdk.init(dsn="http://public@127.0.0.1:9/1", transport=Recording)

app = FastAPI()

@app.get("/fail")
def fail():
    raise CheckoutError("the endpoint failed")

client = Client("phc_test", host=os.environ["INBOX_URL"])
app.add_middleware(PostHogMiddleware, client=client)
with TestClient(app, raise_server_exceptions=False) as http:
    print("status:", http.get("/fail").status_code, file=sys.stderr)
client.shutdown(timeout=10)
sentry_sdk.flush(timeout=5)
"""


@pytest.mark.parametrize("app", [DJANGO, STARLETTE], ids=["django", "fastapi"])
def test_each_gets_the_view_exception_once(inbox: InboxServer, app: str) -> None:
    code = textwrap.dedent(SENTRY) + textwrap.dedent(app)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "INBOX_URL": inbox.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "status: 500" in result.stderr  # the answer without either of them
    assert result.stderr.count("sentry got:") == 1, result.stderr
    assert "sentry got: CheckoutError" in result.stderr
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["properties"]["$exception_types"] == ["CheckoutError"]
    assert event["properties"]["$response_status"] == 500
    assert len(inbox.events(event="$exception")) == 1
