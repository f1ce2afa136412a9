"""Processes for the reliability tests: the inbox, the app servers, the load, and the report.

Everything runs on 127.0.0.1 in its own process group, and every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import requests

from tests.core.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
API_KEY = "phc_reliability"
GUNICORN_CONF = Path(__file__).with_name("gunicorn_conf.py")
MASTER_EVENT = "reliability_master_ready"
_N = re.compile(r"[?&]n=(\d+)(?:&|$)")


def _wait(check: Any, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise AssertionError(f"{what} within {timeout} s")


def _stop_group(process: subprocess.Popen[bytes], sig: int, timeout: float) -> int | None:
    """Send ``sig`` to the process; SIGKILL its whole group if it is not gone in time."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # leftovers (workers) of our own group
    if process.poll() is None:
        process.wait(10)
        return None
    return process.returncode


class InboxProcess:
    """``python -m posthog_web.inbox`` on a fixed port and database file; restartable."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.db = workdir / "inbox.sqlite3"
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = workdir / "inbox.log"
        self._log: TextIO | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> InboxProcess:
        self._log = self._log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            [PYTHON, "-m", "posthog_web.inbox", "--port", str(self.port), "--db", str(self.db)],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait(self._healthy, 20, "the inbox did not start")
        except BaseException:
            self.stop()
            raise
        return self

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the inbox exited with {self.process.returncode}")
        try:
            return requests.get(f"{self.url}/api/health", timeout=1).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop_group(self.process, signal.SIGTERM, 10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def faults(self, spec: dict[str, Any]) -> None:
        """Arm faults over HTTP (docs/inbox.md)."""
        answer = requests.post(f"{self.url}/api/faults", json=spec, timeout=5)
        assert answer.ok, answer.text

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        params = {"event": event} if event else {}
        answer = requests.get(f"{self.url}/api/events", params=params, timeout=30)
        answer.raise_for_status()
        events: list[dict[str, Any]] = answer.json()["events"]
        return events


@dataclass(frozen=True)
class ServerKind:
    """One way to serve an example app."""

    name: str
    argv: tuple[str, ...]
    page: str
    gunicorn: bool = False
    preload: bool = False

    def command(self, port: int, access_log: Path) -> list[str]:
        if not self.gunicorn:
            return [
                PYTHON,
                "-m",
                "uvicorn",
                "example_starlette.starlette_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
                *self.argv,
            ]
        return [
            PYTHON,
            "-m",
            "gunicorn",
            "--chdir",
            str(ROOT / "example_django"),
            "--bind",
            f"127.0.0.1:{port}",
            "--graceful-timeout",
            "20",
            "--access-logfile",
            str(access_log),
            "--access-logformat",
            "%(p)s %(q)s",
            "-c",
            str(GUNICORN_CONF),
            *self.argv,
            *(["--preload"] if self.preload else []),
            "shop.wsgi:application",
        ]


SYNC = ("--workers", "2")
GTHREAD = ("--workers", "2", "--worker-class", "gthread", "--threads", "4")
SERVERS = {
    kind.name: kind
    for kind in (
        ServerKind("gunicorn-sync", SYNC, "/pricing/", gunicorn=True),
        ServerKind("gunicorn-sync-preload", SYNC, "/pricing/", gunicorn=True, preload=True),
        ServerKind("gunicorn-gthread", GTHREAD, "/pricing/", gunicorn=True),
        ServerKind("gunicorn-gthread-preload", GTHREAD, "/pricing/", gunicorn=True, preload=True),
        ServerKind("uvicorn-2", ("--workers", "2"), "/pricing"),
        ServerKind("uvicorn-1", (), "/pricing"),
    )
}


class ServerProcess:
    """gunicorn with example_django or uvicorn with example_starlette, sending to the inbox."""

    def __init__(
        self,
        kind: ServerKind,
        inbox: InboxProcess,
        workdir: Path,
        *,
        spool: bool = True,
        max_retries: int = 1,
        timeout: float = 1.0,
        max_queue_size: int | None = None,
    ) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{kind.page}"
        self.spool_dir = workdir / "spool"
        self.access_log = workdir / "access.log"
        self._log_path = workdir / f"{kind.name}.log"
        self._log: TextIO | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "EXAMPLE_DEBUG": "0",
            "EXAMPLE_DB": str(workdir / "shop.sqlite3"),
            "POSTHOG_API_KEY": API_KEY,
            "POSTHOG_HOST": inbox.url,
            "POSTHOG_MAX_RETRIES": str(max_retries),
            "POSTHOG_TIMEOUT": str(timeout),
        }
        self.env.pop("PYTEST_CURRENT_TEST", None)
        if spool:
            self.env["POSTHOG_SPOOL_DIR"] = str(self.spool_dir)
        if max_queue_size is not None:
            self.env["POSTHOG_MAX_QUEUE_SIZE"] = str(max_queue_size)

    def start(self) -> ServerProcess:
        self._log = self._log_path.open("a", encoding="utf-8")
        self.process = subprocess.Popen(
            self.kind.command(self.port, self.access_log),
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait(self._serving, 60, f"{self.kind.name} did not serve {self.url}")
        except BaseException:
            self.stop(signal.SIGKILL, 5)
            raise
        return self

    def _serving(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.kind.name} exited with {self.process.returncode}:\n{self.output()}"
            )
        try:
            # HEAD: answered, but never a page view.
            return requests.head(self.url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int | None:
        code = None
        if self.process is not None:
            code = _stop_group(self.process, sig, timeout)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    def output(self, tail: int | None = 6000) -> str:
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return text if tail is None else text[-tail:]

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children] or [pid]

    def pids_by_request(self) -> dict[int, int]:
        """gunicorn's access log: which worker answered each ``n``."""
        found: dict[int, int] = {}
        if not self.access_log.exists():
            return found
        for line in self.access_log.read_text(encoding="utf-8").splitlines():
            match = re.match(r"<(\d+)> .*?\bn=(\d+)", line)
            if match:
                found[int(match.group(2))] = int(match.group(1))
        return found

    def spooled_files(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*/*.batch"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


@dataclass
class Load:
    """One run of tests/reliability/load.py in its own process."""

    url: str
    first: int
    count: int
    workdir: Path
    rate: float = 0.0
    threads: int = 4
    process: subprocess.Popen[bytes] | None = None
    out: Path = field(init=False)

    def __post_init__(self) -> None:
        self.out = self.workdir / f"load-{self.first}.json"

    def start(self) -> Load:
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "tests.reliability.load",
                self.url,
                "--first",
                str(self.first),
                "--count",
                str(self.count),
                "--threads",
                str(self.threads),
                "--rate",
                str(self.rate),
                "--out",
                str(self.out),
            ],
            cwd=ROOT,
            start_new_session=True,
        )
        return self

    def results(self, timeout: float = 120) -> list[tuple[int, int, float]]:
        assert self.process is not None
        try:
            code = self.process.wait(timeout)
        finally:
            _stop_group(self.process, signal.SIGKILL, 1)
        assert code == 0, f"the load generator exited with {code}"
        return [
            (int(n), int(status), float(s)) for n, status, s in json.loads(self.out.read_text())
        ]

    def run(self, timeout: float = 120) -> list[tuple[int, int, float]]:
        return self.start().results(timeout)


def page_n(event: dict[str, Any]) -> int | None:
    """The ``n`` a ``$pageview`` was tagged with (its URL's query parameter)."""
    match = _N.search(str(event.get("properties", {}).get("$current_url", "")))
    return int(match.group(1)) if match else None


@dataclass
class Tally:
    """What the inbox has for the requests answered 200."""

    expected: set[int]
    uuids: dict[int, set[str]]
    copies: int

    @property
    def received(self) -> int:
        return sum(1 for n in self.expected if self.uuids.get(n))

    @property
    def lost(self) -> int:
        return len(self.expected) - self.received

    @property
    def double_counted(self) -> int:
        """Requests with more than one distinct page view (a real bug, unlike copies)."""
        return sum(1 for n in self.expected if len(self.uuids.get(n, ())) > 1)

    @property
    def duplicates(self) -> int:
        """Extra copies of the same event (same uuid): at-least-once, PostHog dedups."""
        return self.copies


def tally(inbox: InboxProcess, expected: set[int]) -> Tally:
    uuids: dict[int, set[str]] = defaultdict(set)
    per_uuid: Counter[str] = Counter()
    for event in inbox.events("$pageview"):
        n = page_n(event)
        if n is None or n not in expected:
            continue
        uuids[n].add(str(event["uuid"]))
        per_uuid[str(event["uuid"])] += 1
    copies = sum(count - 1 for count in per_uuid.values())
    return Tally(expected, dict(uuids), copies)


def wait_for_all(inbox: InboxProcess, expected: set[int], timeout: float = 60) -> Tally:
    """Poll the inbox until every expected page view is there (or the time is up)."""
    deadline = time.monotonic() + timeout
    while True:
        result = tally(inbox, expected)
        if result.lost == 0 or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def answered(results: list[tuple[int, int, float]]) -> set[int]:
    return {n for n, status, _ in results if status == 200}


def latency_ms(results: list[tuple[int, int, float]]) -> tuple[float, float]:
    """p50 and p99 of the answered requests, in milliseconds."""
    times = sorted(s * 1000 for _, status, s in results if status == 200)
    if not times:
        return 0.0, 0.0
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return statistics.median(times), p99


def report(
    scenario: str, server: str, results: list[tuple[int, int, float]], got: Tally, **extra: Any
) -> dict[str, Any]:
    """Print one docs/reliability.md row (and append it to $RELIABILITY_REPORT if set)."""
    p50, p99 = latency_ms(results)
    row: dict[str, Any] = {
        "test": os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0],
        "scenario": scenario,
        "server": server,
        "requests": len(results),
        "answered": len(answered(results)),
        "expected": len(got.expected),
        "received": got.received,
        "duplicates": got.duplicates,
        "double_counted": got.double_counted,
        "lost": got.lost,
        "p50_ms": round(p50, 1),
        "p99_ms": round(p99, 1),
        **extra,
    }
    print("RELIABILITY " + json.dumps(row), flush=True)
    path = os.environ.get("RELIABILITY_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
    return row


@contextlib.contextmanager
def running(*processes: InboxProcess | ServerProcess) -> Iterator[None]:
    """Stop every process at the end, whatever happened."""
    try:
        yield
    finally:
        for process in reversed(processes):
            process.stop()
