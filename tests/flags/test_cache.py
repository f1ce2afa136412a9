"""Definitions shared across the processes of a machine through flags_cache_dir."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.flags.conftest import MakeClient
from tests.flags.server import SECRET, TOKEN, FlagsServer
from tests.flags.test_client import checkout, definitions


def test_one_worker_fetches_the_others_read(
    flags_server: FlagsServer, flags_client: MakeClient, tmp_path: Path
) -> None:
    flags_server.definitions = definitions(checkout())
    workers = [flags_client(flags_cache_dir=tmp_path, flags_poll_interval=60) for _ in range(4)]
    for worker in workers:
        assert worker.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert len(flags_server.made("definitions")) == 1
    (stored,) = tmp_path.glob("posthog-flags-*.json")
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert "phx_" not in stored.read_text()

    # Past the interval the next poll fetches once, with the stored ETag: a 304.
    old = time.time() - 120
    os.utime(stored, (old, old))
    poller = workers[2].flags.poller
    assert poller is not None
    poller.poll()
    (_, second) = flags_server.made("definitions")
    assert second["headers"]["If-None-Match"] == flags_server.etag()
    assert time.time() - stored.stat().st_mtime < 60  # the 304 refreshed the shared copy
    for worker in workers:
        other = worker.flags.poller
        assert other is not None
        other.poll()  # fresh again: read, not fetched
    assert len(flags_server.made("definitions")) == 2


def test_a_worker_waiting_for_the_lock_uses_the_stored_copy(
    flags_server: FlagsServer, flags_client: MakeClient, tmp_path: Path
) -> None:
    flags_server.definitions = definitions(checkout())
    first = flags_client(flags_cache_dir=tmp_path, flags_poll_interval=60)
    assert first.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    (stored,) = tmp_path.glob("posthog-flags-*.json")
    old = time.time() - 120
    os.utime(stored, (old, old))
    second = flags_client(flags_cache_dir=tmp_path, flags_poll_interval=60)
    store = first.flags.poller._store  # type: ignore[union-attr]
    with store.fetch_lock() as holding:  # type: ignore[union-attr]
        assert holding
        assert second.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert len(flags_server.made("definitions")) == 1


WORKER = """
import sys
from posthog_web import Client
client = Client(sys.argv[1], host=sys.argv[2], flags_secret_key=sys.argv[3],
                flags_cache_dir=sys.argv[4], flags_poll_interval=60, flags_timeout=10)
print(client.get_feature_flag("checkout-test", distinct_id="user-42", send_event=False))
"""


@pytest.mark.slow
def test_workers_started_together_cost_one_fetch(flags_server: FlagsServer, tmp_path: Path) -> None:
    flags_server.definitions = definitions(checkout())
    args = [sys.executable, "-c", WORKER, TOKEN, flags_server.url, SECRET, str(tmp_path)]
    workers = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [worker.communicate(timeout=30)[0].strip() for worker in workers]
    assert outputs == ["test-b"] * 4
    assert len(flags_server.made("definitions")) == 1
    assert flags_server.made("flags") == []
