"""The command line: a real subprocess, the options, clean shutdown on signals."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from posthog_web.inbox.__main__ import main
from tests.inbox.helpers import batch, make_event, wait_until

pytestmark = pytest.mark.slow


class _Inbox:
    """A `python -m posthog_web.inbox` subprocess whose stdout is read without blocking."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "posthog_web.inbox", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self, timeout: float = 10) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            pytest.fail(f"no output from the inbox; stderr: {self.process.communicate()[1]}")

    def finish(self, signum: int) -> tuple[int, str]:
        self.process.send_signal(signum)
        try:
            _, stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
            pytest.fail("the inbox did not stop on the signal")
        self._reader.join(5)
        return self.process.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_and_stops_cleanly_on_a_signal(tmp_path: Path, signum: int) -> None:
    inbox = _Inbox("--port", "0", "--fail-fraction", "0", "--verbose", cwd=tmp_path)

    url = inbox.line()
    hint = inbox.line()
    assert url.startswith("http://127.0.0.1:")
    assert url in hint
    response = requests.post(url + "/batch/", json=batch(make_event("cli_event")), timeout=5)
    assert response.status_code == 200
    events = requests.get(url + "/api/events", timeout=5).json()["events"]
    assert [e["event"] for e in events] == ["cli_event"]

    code, stderr = inbox.finish(signum)

    assert code == 0, stderr
    # The default database is posthog-inbox.db in the working directory.
    assert (tmp_path / "posthog-inbox.db").exists()


def test_cli_fault_options_apply(tmp_path: Path) -> None:
    inbox = _Inbox(
        "--port", "0", "--db", ":memory:", "--fail-status", "429",
        "--fail-window-start", "0", "--fail-window-seconds", "60",
        "--delay", "0.01", "--drop-fraction", "0", "--seed", "3",
        cwd=tmp_path,
    )  # fmt: skip

    url = inbox.line()
    status = requests.post(url + "/batch/", json=batch(make_event()), timeout=5).status_code
    faults = requests.get(url + "/api/faults", timeout=5).json()["faults"]

    assert status == 429
    assert faults["delay"] == 0.01
    assert inbox.finish(signal.SIGTERM)[0] == 0
    assert not (tmp_path / "posthog-inbox.db").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_main_in_process_stops_on_sigint(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    def interrupt() -> None:
        def up() -> bool:
            try:
                return requests.get(url + "/api/health", timeout=1).ok
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                return False

        wait_until(up, timeout=10)
        os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=interrupt)
    thread.start()
    code = main(["--port", str(port), "--db", ":memory:"])
    thread.join(10)

    assert code == 0
    assert capsys.readouterr().out.splitlines()[0] == url
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--host", "example.invalid"], "not a loopback address"),
        (["--fail-fraction", "2", "--db", ":memory:", "--port", "0"], "between 0 and 1"),
        (["--db", "/nonexistent-dir/x/inbox.db", "--port", "0"], "posthog-web inbox:"),
    ],
)
def test_main_refuses_bad_options(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_main_reports_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["--port", str(port), "--db", ":memory:"]) == 2
    assert "posthog-web inbox:" in capsys.readouterr().err


def test_main_accepts_localhost_and_allow_remote_flag() -> None:
    from posthog_web.inbox.__main__ import _is_loopback

    assert _is_loopback("localhost")
    assert _is_loopback("::1")
    assert _is_loopback("127.0.0.2")
    assert not _is_loopback("192.0.2.1")
