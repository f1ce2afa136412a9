"""Definitions after fork(): the child polls with its own thread (gunicorn --preload)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.flags.test_client import checkout, definitions

CHILD = textwrap.dedent(
    """
    import os, sys, time
    from posthog_web import Client
    client = Client(sys.argv[1], host=sys.argv[2], flags_secret_key=sys.argv[3],
                    flags_poll_interval=0.05, sync_mode=True)
    before = client.get_feature_flag("checkout-test", distinct_id="user-42", send_event=False)
    assert before == "test-b", before
    open(sys.argv[4], "w").close()  # tell the test to change the definitions
    pid = os.fork()
    if pid == 0:
        deadline = time.monotonic() + 5
        value = before
        while time.monotonic() < deadline and value == before:
            time.sleep(0.02)
            value = client.get_feature_flag("checkout-test", distinct_id="user-42",
                                            send_event=False)
        os._exit(0 if value is False else 3)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


@pytest.mark.slow
def test_the_child_polls_on_its_own(flags_server: FlagsServer, tmp_path: Path) -> None:
    flags_server.definitions = definitions(checkout())
    marker = tmp_path / "loaded"
    args = [sys.executable, "-c", CHILD, TOKEN, flags_server.url, SECRET, str(marker)]
    with subprocess.Popen(args) as process:
        try:
            deadline = time.monotonic() + 10
            while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            # Inactive now: only a poller running in the child can tell it.
            flags_server.definitions = definitions(checkout(active=False))
            assert process.wait(timeout=10) == 0
        finally:
            process.kill()


def test_the_package_never_imports_the_oracle() -> None:
    code = (
        "import sys, posthog_web, posthog_web.flags.cache\n"
        "from posthog_web import Client\n"
        "c = Client('phc_x', host='http://127.0.0.1:9', flags_secret_key='phx_y')\n"
        "c.flags.set_definitions({'flags': []})\n"
        "c.get_all_flags(distinct_id='u', only_evaluate_locally=True)\n"
        "assert 'posthog' not in sys.modules, 'posthog-python was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
