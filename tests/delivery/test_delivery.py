"""The background sender against a real local server: batching, gzip, retries, limits."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.delivery.retry import parse_retry_after as _parse_retry_after
from posthog_web.inbox import InboxServer
from tests.core.helpers import MakeClient, decode_body, wait_for_requests


def _capture(client: Client, count: int, prefix: str = "e") -> None:
    for i in range(count):
        client.capture(f"{prefix}{i}", distinct_id="u1", properties={"i": i})


def test_batches_are_gzipped_and_carry_key_and_sent_at(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    _capture(client, 3)
    assert client.flush(timeout=10)
    assert [e["event"] for e in inbox.events()] == ["e0", "e1", "e2"]
    request = inbox.requests[-1]
    assert request.path.rstrip("/") == "/batch"
    assert request.headers["content-encoding"] == "gzip"
    assert request.body[:2] == b"\x1f\x8b"
    assert request.headers["user-agent"].startswith("posthog-web/")
    body = decode_body(request.body)
    assert body["api_key"] == "phc_test"
    assert body["sent_at"]
    assert client.stats()["sent"] == 3


def test_plain_json_when_gzip_is_off(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(gzip=False)
    _capture(client, 1)
    assert client.flush(timeout=10)
    request = inbox.requests[-1]
    assert "content-encoding" not in request.headers
    assert decode_body(request.body)["batch"][0]["event"] == "e0"


def test_flush_at_sends_without_waiting_for_the_interval(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(flush_at=5, flush_interval=60)
    _capture(client, 5)
    inbox.wait_for_events(5, timeout=20)


def test_max_batch_size_splits_the_backlog(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(max_batch_size=10, flush_interval=60, flush_at=1000)
    _capture(client, 25)
    assert client.flush(timeout=10)
    sizes = [len(decode_body(r.body)["batch"]) for r in inbox.requests]
    assert sizes == [10, 10, 5]


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (500, None),
        (502, None),
        (503, None),
        (504, None),
        (408, None),
        (429, None),
        (429, {"Retry-After": "0.2"}),
    ],
)
def test_retryable_statuses_are_retried_with_identical_events(
    make_client: MakeClient, inbox: InboxServer, status: int, headers: dict[str, str] | None
) -> None:
    client = make_client()
    inbox.faults.fail_next(2, status=status, headers=headers)
    _capture(client, 2)
    assert client.flush(timeout=20)
    assert len(inbox.events()) == 2
    bodies = [decode_body(r.body) for r in inbox.requests]
    assert [r.status for r in inbox.requests] == [status, status, 200]
    # Every attempt carries the same events; only sent_at may change.
    assert bodies[0]["batch"] == bodies[1]["batch"] == bodies[2]["batch"]
    stats = client.stats()
    assert stats["retried"] == 4
    assert stats["dropped"] == 0


def test_retry_after_is_honoured(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client()
    inbox.faults.fail_next(1, status=429, headers={"Retry-After": "1"})
    _capture(client, 1)
    assert client.flush(timeout=20)
    first, second = inbox.requests[0], inbox.requests[1]
    assert second.received_at - first.received_at >= 0.9


def test_retry_after_parsing() -> None:
    assert _parse_retry_after(None) == 0.0
    assert _parse_retry_after("2") == 2.0
    assert _parse_retry_after("9999") == 60.0
    assert _parse_retry_after("-5") == 0.0
    assert _parse_retry_after("nonsense") == 0.0
    assert _parse_retry_after("nan") == 0.0
    assert 0 < _parse_retry_after(_http_date(5)) <= 5.0


def _http_date(seconds_ahead: float) -> str:
    import email.utils

    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


def test_connection_refused_is_retried_until_the_server_is_up(unused_port: int) -> None:
    client = Client(
        "phc_test", host=f"http://127.0.0.1:{unused_port}", flush_interval=0.05, max_retries=8
    )
    client._sender.options.retry_base_delay = 0.2
    client.capture("late", distinct_id="u1")
    server = InboxServer(port=unused_port).start()
    try:
        server.wait_for_events(1, timeout=30)
        assert client.flush(timeout=10)
        assert client.stats()["retried"] >= 1 or len(server.requests) == 1
    finally:
        client.shutdown(timeout=5)
        server.stop()


def test_read_timeout_is_retried(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(timeout=0.5)
    inbox.faults.hang_next(1, seconds=5)
    _capture(client, 1)
    assert client.flush(timeout=20)
    assert len(inbox.events()) == 1
    assert client.stats()["retried"] == 1


def test_dropped_connection_is_retried(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client()
    inbox.faults.drop_next(1)
    _capture(client, 1)
    assert client.flush(timeout=20)
    assert len(inbox.events()) == 1


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_are_not_retried_and_logged(
    make_client: MakeClient, inbox: InboxServer, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    inbox.faults.fail_next(1, status=status)
    _capture(client, 2)
    assert not client.flush(timeout=10)
    assert len(inbox.requests) == 1
    stats = client.stats()
    assert stats["dropped_rejected"] == 2
    assert stats["retried"] == 0
    assert f"PostHog answered {status}" in caplog.text
    assert "phc_test" not in caplog.text
    # The engine goes on with the next batch.
    _capture(client, 1, prefix="after")
    assert client.flush(timeout=10)
    assert [e["event"] for e in inbox.events()] == ["after0"]


def test_retry_budget_spent_drops_and_counts(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(max_retries=2)
    inbox.faults.fail_next(3, status=503)
    _capture(client, 1)
    assert not client.flush(timeout=20)
    assert client.stats()["dropped_retries"] == 1
    assert len(inbox.requests) == 3


def test_413_splits_the_batch_in_halves(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(flush_interval=60, flush_at=1000)
    _capture(client, 4)
    inbox.faults.fail_next(1, status=413)
    assert client.flush(timeout=20)
    sizes = [len(decode_body(r.body)["batch"]) for r in inbox.requests]
    assert sizes == [4, 2, 2]
    assert len(inbox.events()) == 4


def test_413_on_a_single_event_drops_it(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(flush_interval=60, flush_at=1000)
    _capture(client, 2)
    inbox.faults.fail_next(2, status=413)
    assert not client.flush(timeout=20)
    sizes = [len(decode_body(r.body)["batch"]) for r in inbox.requests]
    assert sizes == [2, 1, 1]
    assert [e["event"] for e in inbox.events()] == ["e1"]
    assert client.stats()["dropped_rejected"] == 1
    assert "too large" in caplog.text


def test_batches_stay_under_five_mib(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client(flush_interval=60, flush_at=1000, gzip=False)
    blob = "x" * 800_000
    for i in range(8):
        client.capture(f"big{i}", distinct_id="u1", properties={"blob": blob})
    assert client.flush(timeout=30)
    assert len(inbox.events()) == 8
    assert all(len(r.body) < 5 * 1024 * 1024 for r in inbox.requests)
    assert len(inbox.requests) >= 2


def test_queue_overflow_drops_counts_and_warns_once(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(max_queue_size=5, flush_at=1000, flush_interval=60)
    _capture(client, 12)
    stats = client.stats()
    assert stats["dropped_queue_full"] == 7
    assert stats["queued"] == 5
    assert caplog.text.count("dropped an event (queue full)") == 1
    assert client.flush(timeout=10)
    assert len(inbox.events()) == 5


def test_caller_never_blocks_while_the_host_hangs(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(timeout=30)
    inbox.faults.hang_next(1, seconds=30)
    _capture(client, 1)
    wait_for_requests(inbox, 1, timeout=10)
    done = threading.Event()

    def burst() -> None:
        _capture(client, 200, prefix="burst")
        done.set()

    thread = threading.Thread(target=burst)
    thread.start()
    # Generous bound: the point is that capture() returns while the sender is stuck.
    assert done.wait(20)
    thread.join()


def test_flush_returns_false_when_host_is_down(unused_port: int) -> None:
    client = Client("phc_test", host=f"http://127.0.0.1:{unused_port}", flush_interval=0.05)
    client.capture("e", distinct_id="u1")
    assert client.flush(timeout=0.5) is False
    client.shutdown(timeout=0.5)


def test_shutdown_returns_within_its_timeout_when_host_hangs(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(timeout=30, max_retries=10)
    inbox.faults.hang_next(100, seconds=60)
    _capture(client, 3)
    wait_for_requests(inbox, 1, timeout=10)
    started = time.monotonic()
    assert client.shutdown(timeout=1.0) is False
    # A bound with a wide margin: a shutdown that waited for the hang would take 60 s.
    assert time.monotonic() - started < 15
    # The hung request is still in flight: nothing was reported delivered.
    assert client.stats()["sent"] == 0


def test_shutdown_flushes_and_later_events_are_dropped(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client(flush_interval=60, flush_at=1000)
    _capture(client, 3)
    assert client.shutdown(timeout=10)
    assert len(inbox.events()) == 3
    client.capture("late", distinct_id="u1")
    assert client.stats()["dropped_shut_down"] == 1
    assert client.flush(timeout=1)


def test_flush_without_events_is_immediate(make_client: MakeClient) -> None:
    client = make_client()
    assert client.flush(timeout=1)
    assert client.shutdown(timeout=1)


def test_unencodable_enqueued_event_is_dropped_not_fatal(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    client.enqueue({"event": "bad", "distinct_id": "u1", "properties": {"x": object()}})
    client.enqueue({"event": "huge", "distinct_id": "u1", "properties": {"x": "y" * 1_000_000}})
    client.capture("good", distinct_id="u1")
    client.flush(timeout=10)
    assert [e["event"] for e in inbox.events()] == ["good"]
    stats = client.stats()
    assert stats["dropped_unencodable"] == 1
    assert stats["dropped_oversized"] == 1
    assert "could not encode" in caplog.text


def test_many_threads_capture_concurrently(make_client: MakeClient, inbox: InboxServer) -> None:
    client = make_client()

    def worker(n: int) -> None:
        _capture(client, 250, prefix=f"t{n}-")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert client.flush(timeout=30)
    events = inbox.events()
    assert len(events) == 1000
    assert len({e["uuid"] for e in events}) == 1000
    assert client.stats()["sent"] == 1000


def test_logging_uses_the_package_logger(
    make_client: MakeClient, inbox: InboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="posthog_web")
    client = make_client()
    inbox.faults.fail_next(1, status=503)
    _capture(client, 1)
    assert client.flush(timeout=10)
    assert all(r.name.startswith("posthog_web") for r in caplog.records)
    assert any("retrying" in r.getMessage() for r in caplog.records)


# The spool -------------------------------------------------------------------------


def _wait_for_stat(client: Client, key: str, value: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while client.stats()[key] < value:
        assert time.monotonic() < deadline, f"{key} stayed at {client.stats()[key]}"
        time.sleep(0.01)


def _spool_files(root: Path) -> list[Path]:
    return sorted(root.glob("project-*/*.batch"))


def _down(port: int, spool_dir: Path, **options: Any) -> Client:
    options.setdefault("flush_interval", 0.05)
    options.setdefault("max_retries", 1)
    options.setdefault("timeout", 2.0)
    client = Client("phc_test", host=f"http://127.0.0.1:{port}", spool_dir=spool_dir, **options)
    client._sender.options.retry_base_delay = 0.01
    return client


def test_budget_spent_goes_to_the_spool_and_is_resent_with_the_same_uuids(
    unused_port: int, tmp_path: Path
) -> None:
    client = _down(unused_port, tmp_path)
    _capture(client, 3)
    assert client.flush(timeout=10) is False
    stats = client.stats()
    assert stats["spooled"] == 3
    assert stats["dropped"] == 0
    assert len(_spool_files(tmp_path)) == 1
    spooled = [json.loads(line) for line in _spool_files(tmp_path)[0].read_bytes().splitlines()[1:]]
    server = InboxServer(port=unused_port).start()
    try:
        events = server.wait_for_events(3, timeout=30)
        assert [e["uuid"] for e in events] == [e["uuid"] for e in spooled]
        assert [e["timestamp"] for e in events] == [e["timestamp"] for e in spooled]
        _wait_for_stat(client, "resent", 3)
        assert _spool_files(tmp_path) == []
        # Online again: new events go straight out.
        _capture(client, 2, prefix="after")
        assert client.flush(timeout=10)
        assert len(server.events()) == 5
    finally:
        client.shutdown(timeout=5)
        server.stop()


def test_offline_batches_go_to_the_spool_without_waiting_for_a_budget(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path
) -> None:
    client = make_client(spool_dir=tmp_path, max_retries=2, retry_base_delay=0.05)
    inbox.faults.fail_window(60, status=503)
    _capture(client, 1, prefix="first")
    assert client.flush(timeout=10) is False
    assert client._sender._spooling.offline
    requests_before = len(inbox.requests)
    started = time.monotonic()
    _capture(client, 5, prefix="later")
    assert client.flush(timeout=10) is False
    assert time.monotonic() - started < 2
    assert client.stats()["spooled"] == 6
    # Only probes (the oldest spooled batch, with backoff) reached the server meanwhile.
    probes = inbox.requests[requests_before:]
    assert all(len(decode_body(r.body)["batch"]) == 1 for r in probes)
    inbox.faults.reset()
    events = inbox.wait_for_events(6, timeout=30)
    assert sorted(e["event"] for e in events) == ["first0"] + [f"later{i}" for i in range(5)]
    assert events[0]["event"] == "first0"  # oldest first


def test_retry_after_paces_the_probes(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path
) -> None:
    client = make_client(spool_dir=tmp_path, max_retries=0)
    inbox.faults.fail_next(2, status=429, headers={"Retry-After": "1"})
    _capture(client, 1)
    inbox.wait_for_events(1, timeout=30)
    first, probe, last = inbox.requests[:3]
    assert probe.received_at - first.received_at >= 0.9
    assert last.received_at - probe.received_at >= 0.9
    _wait_for_stat(client, "resent", 1)


def test_shutdown_while_down_spools_and_the_next_process_resends(
    unused_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _down(unused_port, tmp_path, max_retries=20, flush_interval=60, flush_at=1000)
    _capture(client, 4)
    started = time.monotonic()
    assert client.shutdown(timeout=1.0) is False
    assert time.monotonic() - started < 5
    assert client.stats()["spooled"] == 4
    assert "wrote 4 undelivered event(s) to the spool" in caplog.text
    assert "while stopping" in caplog.text
    server = InboxServer(port=unused_port).start()
    later = _down(unused_port, tmp_path)
    try:
        later.capture("new", distinct_id="u1")  # starts the sender, which sends the spool
        events = server.wait_for_events(5, timeout=30)
        assert sorted(e["event"] for e in events) == ["e0", "e1", "e2", "e3", "new"]
    finally:
        later.shutdown(timeout=5)
        server.stop()


def test_an_in_flight_batch_and_the_queue_are_taken_over_at_shutdown(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path
) -> None:
    client = make_client(spool_dir=tmp_path, timeout=2, max_batch_size=2)
    inbox.faults.hang_next(1, seconds=2)
    _capture(client, 2)
    wait_for_requests(inbox, 1, timeout=10)
    # The sender is stuck on the hung request: these stay queued.
    _capture(client, 3, prefix="queued")
    client.enqueue({"event": "raw", "distinct_id": "u1", "properties": {}})
    assert client.shutdown(timeout=0.5) is False
    assert client.stats()["spooled"] == 6
    files = _spool_files(tmp_path)
    assert [int(p.name.split("-")[-2]) for p in files] == [2, 2, 2]


EXIT_WHILE_DOWN = """
import os
from posthog_web import Client
client = Client("phc_test", host=os.environ["INBOX_URL"], spool_dir=os.environ["SPOOL"],
                flush_interval=60, flush_at=1000, exit_flush_timeout=0.5, max_retries=50)
for i in range(3):
    client.capture(f"exit{i}", distinct_id="u1")
"""


@pytest.mark.slow
def test_exit_while_down_spools_and_the_next_process_sends_it(
    unused_port: int, tmp_path: Path
) -> None:
    env = {**os.environ, "INBOX_URL": f"http://127.0.0.1:{unused_port}", "SPOOL": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", EXIT_WHILE_DOWN],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "to the spool" in result.stderr
    assert "undelivered after" not in result.stderr
    assert len(_spool_files(tmp_path)) == 1
    server = InboxServer(port=unused_port).start()
    later = _down(unused_port, tmp_path)
    try:
        later.capture("next", distinct_id="u1")
        events = server.wait_for_events(4, timeout=30)
        assert sorted(e["event"] for e in events) == ["exit0", "exit1", "exit2", "next"]
    finally:
        later.shutdown(timeout=5)
        server.stop()


def test_each_project_has_its_own_spool(unused_port: int, tmp_path: Path) -> None:
    client = _down(unused_port, tmp_path)
    client.capture("mine", distinct_id="u1")
    client.shutdown(timeout=1.0)
    assert len(_spool_files(tmp_path)) == 1
    server = InboxServer(port=unused_port).start()
    other = Client("phc_other", host=server.url, spool_dir=tmp_path, flush_interval=0.05)
    try:
        other.capture("theirs", distinct_id="u1")
        assert other.flush(timeout=10)
        assert [e["event"] for e in server.events()] == ["theirs"]
        assert len(_spool_files(tmp_path)) == 1
    finally:
        other.shutdown(timeout=5)
        server.stop()


def test_spool_bound_drops_the_oldest_and_counts(
    unused_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _down(unused_port, tmp_path, spool_max_bytes=1500)
    for i in range(6):
        client.capture(f"e{i}", distinct_id="u1", properties={"pad": "x" * 300})
        client.flush(timeout=10)
    stats = client.stats()
    assert stats["spooled"] == 6
    assert stats["dropped_spool_full"] >= 2
    assert stats["dropped"] == stats["dropped_spool_full"]
    assert sum(p.stat().st_size for p in _spool_files(tmp_path)) <= 1500
    assert "the spool is over spool_max_bytes" in caplog.text
    client.shutdown(timeout=1)


def test_an_unusable_spool_is_logged_and_delivery_goes_on(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    client = make_client(spool_dir=blocker / "spool", max_retries=0)
    inbox.faults.fail_next(1, status=503)
    _capture(client, 1, prefix="lost")
    assert client.flush(timeout=10) is False
    assert client.stats()["dropped_retries"] == 1
    assert "cannot use the spool" in caplog.text
    _capture(client, 1, prefix="ok")
    assert client.flush(timeout=10)
    assert [e["event"] for e in inbox.events()] == ["ok0"]


def test_a_spool_write_failure_drops_with_a_log(
    make_client: MakeClient,
    inbox: InboxServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client(spool_dir=tmp_path, max_retries=0)
    client.capture("warm", distinct_id="u1")
    assert client.flush(timeout=10)
    assert client._sender._spooling.spool is not None

    def full(events: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(client._sender._spooling.spool, "write", full)
    inbox.faults.fail_next(1, status=503)
    _capture(client, 2)
    assert client.flush(timeout=10) is False
    assert client.stats()["dropped_retries"] == 2
    assert "could not write 2 event(s) to the spool" in caplog.text


def test_a_damaged_spool_file_is_moved_aside_and_the_rest_resent(
    unused_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _down(unused_port, tmp_path, flush_interval=60, flush_at=1000)
    _capture(client, 2, prefix="a")
    client.shutdown(timeout=0.5)
    client = _down(unused_port, tmp_path, flush_interval=60, flush_at=1000)
    _capture(client, 2, prefix="b")
    client.shutdown(timeout=0.5)
    first, _second = _spool_files(tmp_path)
    first.write_bytes(b"garbage")
    server = InboxServer(port=unused_port).start()
    later = _down(unused_port, tmp_path)
    try:
        later.capture("new", distinct_id="u1")
        events = server.wait_for_events(3, timeout=30)
        assert sorted(e["event"] for e in events) == ["b0", "b1", "new"]
        assert list(tmp_path.glob("project-*/corrupt/*"))
        assert "unreadable" in caplog.text
    finally:
        later.shutdown(timeout=5)
        server.stop()


def test_refused_spooled_batches_are_dropped_not_retried(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path
) -> None:
    client = make_client(spool_dir=tmp_path, max_retries=0)
    inbox.faults.fail_next(1, status=503)
    _capture(client, 2)
    assert client.flush(timeout=10) is False
    inbox.faults.fail_next(1, status=400)
    _wait_for_stat(client, "dropped_rejected", 2)
    assert _spool_files(tmp_path) == []


def test_a_413_on_a_spooled_batch_splits_it(
    make_client: MakeClient, inbox: InboxServer, tmp_path: Path
) -> None:
    client = make_client(spool_dir=tmp_path, max_retries=0)
    inbox.faults.fail_next(1, status=503)
    _capture(client, 4)
    assert client.flush(timeout=10) is False
    inbox.faults.fail_next(1, status=413)
    events = inbox.wait_for_events(4, timeout=30)
    assert len(events) == 4
    sizes = [len(decode_body(r.body)["batch"]) for r in inbox.requests]
    assert sizes == [4, 4, 2, 2]


def test_spool_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="spool_dir"):
        Client("phc_test", spool_dir=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spool_dir"):
        Client("phc_test", spool_dir=" ")
    with pytest.raises(ValueError, match="spool_max_bytes"):
        Client("phc_test", spool_dir=tmp_path, spool_max_bytes=0)
    client = Client("phc_test", spool_dir=Path("relative-spool"), disabled=True)
    assert os.path.isabs(client._sender.options.spool_dir or "")
    stats = client.stats()
    assert stats["spooled"] == stats["resent"] == stats["dropped_spool_full"] == 0
