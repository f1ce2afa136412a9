"""`manage.py posthog_check` against the local inbox."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from posthog_web import Client
from posthog_web.inbox import InboxServer
from tests.core.helpers import free_port


def run(**options: Any) -> str:
    out = StringIO()
    call_command("posthog_check", stdout=out, **options)
    return out.getvalue()


def test_success(inbox: InboxServer, settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": inbox.url}
    out = run()
    assert f"PostHog host: {inbox.url}" in out
    assert "HTTP 200" in out
    [event] = inbox.events("posthog_web_check")
    assert event["distinct_id"] == "posthog-web-check"


def test_custom_distinct_id(inbox: InboxServer, settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": inbox.url}
    run(distinct_id="deploy-check")
    assert inbox.events("posthog_web_check")[0]["distinct_id"] == "deploy-check"


@pytest.mark.parametrize(("status", "hint"), [(401, "API_KEY"), (403, "personal"), (404, "HOST")])
def test_refusals_say_what_to_fix(
    inbox: InboxServer, settings: Any, status: int, hint: str
) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": inbox.url}
    inbox.faults.fail_next(1, status)
    with pytest.raises(CommandError, match=f"HTTP {status}.*{hint}"):
        run()


def test_unreachable_host(settings: Any) -> None:
    port = free_port()
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": f"http://127.0.0.1:{port}", "TIMEOUT": 1}
    with pytest.raises(CommandError, match="Could not reach"):
        run()


def test_no_api_key(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    settings.DEBUG = False
    settings.POSTHOG_WEB = {}
    with pytest.raises(CommandError, match="No API key"):
        run()


def test_injected_client(inbox: InboxServer, settings: Any) -> None:
    client = Client("phc_test", host=inbox.url, flush_interval=0.05)
    try:
        settings.POSTHOG_WEB = {"CLIENT": client}
        assert "HTTP 200" in run()
        assert len(inbox.events("posthog_web_check")) == 1
    finally:
        client.shutdown(timeout=5)


def test_bad_settings(settings: Any) -> None:
    settings.POSTHOG_WEB = {"API_KEY": "phc_test", "HOST": "http://posthog.example.com"}
    with pytest.raises(CommandError, match="POSTHOG_WEB"):
        run()
    settings.POSTHOG_WEB = {"CLIENT": "no.such.client"}
    with pytest.raises(CommandError, match="cannot import"):
        run()
