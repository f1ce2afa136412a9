"""posthog-js 1.449.2 in headless Chromium against the inbox's flags: a page on another
origin loads its flags from the inbox's ``/flags`` (CORS), and gets the same variant and
payload as a posthog-web client evaluating the same definitions locally; its
``$feature_flag_called`` is counted by ``/api/flags``."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.inbox import InboxServer
from posthog_web.inbox.flags import DEFAULT_SECRET_KEY
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, POSTHOG_JS_DIST

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("browser_dependencies")]

TOKEN = "phc_browser_flags"
FLAGS = {
    "new-checkout": {
        "variants": {"control": 34, "test": 33, "fancy": 33},
        "payloads": {"control": {"c": 1}, "test": {"c": 2}, "fancy": {"c": 3}},
    },
    "beta": True,
}
PAGE = """<!doctype html><title>flags</title>
<script src="/array.full.js"></script>
<script>
posthog.init(%(token)s, {api_host: %(host)s, opt_out_useragent_filter: true,
  request_batching: false, disable_session_recording: true, disable_surveys: true});
posthog.onFeatureFlags(function () {
  window.flagsSeen = {id: posthog.get_distinct_id(),
    variant: posthog.getFeatureFlag("new-checkout"),
    payload: posthog.getFeatureFlagPayload("new-checkout"),
    beta: posthog.isFeatureEnabled("beta")};
});
</script>"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path, flags_inbox: InboxServer) -> Iterator[str]:
    (tmp_path / "array.full.js").write_bytes((POSTHOG_JS_DIST / "array.full.js").read_bytes())
    page = PAGE % {"token": json.dumps(TOKEN), "host": json.dumps(flags_inbox.url)}
    (tmp_path / "index.html").write_text(page, encoding="utf-8")
    handler = functools.partial(_Quiet, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def flags_inbox() -> Iterator[InboxServer]:
    with InboxServer(flags=FLAGS) as inbox:
        yield inbox


def test_posthog_js_gets_the_servers_variant_from_the_inbox(
    site: str, flags_inbox: InboxServer
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(site)
            page.wait_for_function("window.flagsSeen !== undefined", timeout=15_000)
            seen = page.evaluate("window.flagsSeen")
            # posthog-js reports each flag it was asked for once (new-checkout and beta) from
            # its send queue: wait with the page open, or closing it would lose the queue.
            called = flags_inbox.wait_for_events(2, timeout=20, event="$feature_flag_called")
        finally:
            browser.close()

    client = Client(TOKEN, host=flags_inbox.url, flags_secret_key=DEFAULT_SECRET_KEY)
    try:
        assert client.flags.definitions(wait=5) is not None
        server = client.flags.evaluate("new-checkout", seen["id"])
    finally:
        client.shutdown(timeout=1)
    assert server.locally_evaluated
    assert seen["variant"] == server.value
    assert seen["payload"] == server.payload
    assert seen["beta"] is True

    called = flags_inbox.events("$feature_flag_called")
    by_flag = {e["properties"]["$feature_flag"]: e for e in called}
    assert len(by_flag) == len(called) == 2, called
    assert by_flag["new-checkout"]["distinct_id"] == seen["id"]
    counts = {f["key"]: f["by_value"] for f in flags_inbox.flags_summary()["flags"]}
    assert counts["new-checkout"] == {server.value: 1}
