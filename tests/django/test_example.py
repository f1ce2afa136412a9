"""The example shop, run in its own process against the inbox."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from posthog_web.inbox import InboxServer

ROOT = Path(__file__).parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, "example_django")
    import django
    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from posthog_web.django.conf import get_config

    call_command("check", fail_level="WARNING")
    call_command("migrate", verbosity=0)
    browser = Client()
    assert browser.get("/").status_code == 200
    assert browser.get("/products/2/").status_code == 200
    assert browser.post("/products/2/buy/").status_code == 302
    assert browser.get("/internal/health/").status_code == 200
    login = browser.post("/login/", {"username": "demo", "password": "demo-password"})
    assert login.status_code == 302, login.content
    assert browser.get("/dashboard/").status_code == 200
    assert browser.post("/logout/").status_code == 302
    assert get_config().tracker.client.flush(timeout=10)
    """
)


@pytest.mark.slow
def test_example_shop(inbox: InboxServer, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "POSTHOG_API_KEY": "phc_example",
        "POSTHOG_HOST": inbox.url,
        "EXAMPLE_DB": str(tmp_path / "shop.sqlite3"),
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"sending events to {inbox.url}" in result.stderr

    pageviews = inbox.events("$pageview")
    titles = [e["properties"].get("title") for e in pageviews]
    assert titles == ["Hedgehog shop", "Hedgehog hoodie", "Dashboard"]  # their <title>s
    assert pageviews[1]["properties"]["product_id"] == 2
    anon_id = pageviews[0]["distinct_id"]
    [purchase] = inbox.events("purchase_completed")
    assert purchase["distinct_id"] == anon_id
    assert purchase["properties"]["amount"] == 49
    [alias] = inbox.events("$create_alias")
    assert alias["properties"]["alias"] == anon_id
    [identify] = inbox.events("$identify")
    assert identify["$set"]["email"] == "demo@example.com"
    assert pageviews[-1]["distinct_id"] == alias["distinct_id"]
