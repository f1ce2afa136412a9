"""FLAGS_CACHE across real processes: 4 Django workers on one FileBasedCache poll as one.

Each worker is a plain subprocess with Django configured from ``POSTHOG_WEB`` (the
setting, not a hand-built client); the flags stand-in on 127.0.0.1 counts the
definitions requests while they run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.flags.test_client import checkout, definitions

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import sys, time
    import django
    from django.conf import settings
    token, url, secret, location, interval, seconds, alias = sys.argv[1:8]
    settings.configure(
        SECRET_KEY="workers-test",
        CACHES={"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                            "LOCATION": location}},
        POSTHOG_WEB={"API_KEY": token, "HOST": url, "FLAGS_SECRET_KEY": secret,
                     "FLAGS_POLL_INTERVAL": float(interval), "FLAGS_TIMEOUT": 10.0,
                     "FLAGS_CACHE": alias or None},
    )
    django.setup()
    from posthog_web.django import conf
    client = conf.get_config().tracker.client
    print(client.get_feature_flag("checkout-test", distinct_id="user-42", send_event=False),
          flush=True)
    time.sleep(float(seconds))
    """
)

INTERVAL = 0.5
SECONDS = 4.0


def run_workers(server: FlagsServer, location: Path, alias: str) -> float:
    """Start 4 workers together, wait for them (bounded); the seconds they took in all."""
    args = [sys.executable, "-c", WORKER, TOKEN, server.url, SECRET, str(location),
            str(INTERVAL), str(SECONDS), alias]  # fmt: skip
    started = time.monotonic()
    workers = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    try:
        outputs = [worker.communicate(timeout=SECONDS + 60)[0].strip() for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
    assert outputs == ["test-b"] * 4
    assert [worker.returncode for worker in workers] == [0] * 4
    return time.monotonic() - started


def test_four_workers_sharing_a_django_cache_poll_about_once_per_interval(
    tmp_path: Path,
) -> None:
    server = FlagsServer().start()
    server.definitions = definitions(checkout())
    try:
        elapsed = run_workers(server, tmp_path / "cache", "default")
        shared = len(server.made("definitions"))
    finally:
        server.stop()
    assert server.made("flags") == []  # every read was local
    # One worker fetches per interval (a 304 mostly); the others read the cache. Four
    # polling on their own would make about 4 * SECONDS / INTERVAL = 32 requests.
    intervals = elapsed / INTERVAL
    assert 2 <= shared <= intervals + 3, (shared, elapsed)
    assert shared < 4 * SECONDS / INTERVAL / 2


def test_without_the_setting_each_worker_polls(tmp_path: Path) -> None:
    # The same workers, FLAGS_CACHE unset: the count the shared cache saves.
    server = FlagsServer().start()
    server.definitions = definitions(checkout())
    try:
        run_workers(server, tmp_path / "cache", "")
        alone = len(server.made("definitions"))
    finally:
        server.stop()
    assert alone >= 4 * 2  # each of the 4 fetched, then polled again at least once
    assert not any((tmp_path / "cache").glob("*"))  # nothing went through the cache
