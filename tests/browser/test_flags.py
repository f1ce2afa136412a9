"""posthog-js without flicker, in headless Chromium: the browser's flag is the server's.

A Starlette app (tests/browser/flags_app.py, its own uvicorn process) evaluates a flag
with three variants locally from definitions served by the flags stand-in on 127.0.0.1
and renders the variant and the snippet. posthog-js, bootstrapped by the snippet, must
give the same variant and payload as soon as it has loaded, before any answer of its
own: the stand-in holds posthog-js's ``/flags`` requests for longer than the test looks.
Several visitors (browser contexts), so different variants are seen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    POSTHOG_JS_DIST,
    ROOT,
    App,
    free_port,
    stop,
    wait_until_serving,
)
from tests.flags.server import FlagsServer
from tests.web.test_flags import CHECKOUT, CONTINUITY, OFF

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("browser_dependencies")]

DESKTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
POSTHOG_JS_OPTIONS = {
    "opt_out_useragent_filter": True,
    "disable_session_recording": True,
    "disable_surveys": True,
    "disable_compression": True,
}
VISITORS = 8
TIMEOUT_MS = 15_000


@pytest.fixture
def flags_server() -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    server.definitions = {
        "flags": [CHECKOUT, CONTINUITY, OFF],
        "group_type_mapping": {},
        "cohorts": {},
    }
    # posthog-js's own /flags call waits longer than the test looks at the page.
    server.delay["flags"] = 10.0
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def flags_app(flags_server: FlagsServer, tmp_path: Path) -> Iterator[App]:
    port = free_port()
    env = {
        **os.environ,
        "FLAGS_HOST": flags_server.url,
        "POSTHOG_JS_DIST": str(POSTHOG_JS_DIST),
        "EXAMPLE_POSTHOG_JS_OPTIONS": json.dumps(
            {**POSTHOG_JS_OPTIONS, "api_host": flags_server.url}
        ),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "uvicorn", "tests.browser.flags_app:app",
               "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]  # fmt: skip
    log = tmp_path / "flags_app.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    app = App("flags", f"http://127.0.0.1:{port}", process, log, {"home": "/"}, "")
    try:
        wait_until_serving(app)
        yield app
    finally:
        stop(process)


def test_posthog_js_gets_the_servers_variant_and_payload_from_its_first_line(
    flags_app: App, flags_server: FlagsServer
) -> None:
    from playwright.sync_api import sync_playwright

    seen: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for _ in range(VISITORS):
                context = browser.new_context(user_agent=DESKTOP_UA)
                context.set_default_timeout(TIMEOUT_MS)
                page = context.new_page()
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(flags_app.url + "/")
                page.wait_for_function("window.posthog && window.posthog.__loaded === true")
                server_variant = page.inner_text("#variant")
                server_payload = json.loads(page.inner_text("#payload"))
                server_id = page.inner_text("#distinct-id")
                browser_side = page.evaluate(
                    "[posthog.getFeatureFlag('checkout-test'),"
                    " posthog.getFeatureFlagPayload('checkout-test'),"
                    " posthog.isFeatureEnabled('checkout-test'),"
                    " posthog.get_distinct_id(),"
                    " posthog.getFeatureFlag('sticky') === undefined]"
                )
                context.close()
                assert errors == [], flags_app.output()
                assert browser_side == [
                    server_variant,
                    server_payload,
                    True,
                    server_id,
                    True,  # only the server decides it: not bootstrapped, not guessed
                ]
                seen.append(server_variant)
        finally:
            browser.close()
    assert set(seen) <= {"control", "test-a", "test-b"}
    assert len(set(seen)) >= 2  # 8 visitors: more than one variant (seeded ids aside)
    assert len(flags_server.made("definitions")) >= 1
