"""The real-server run: the examples under uvicorn and gunicorn, bare vs posthog-web.

Every server is one worker process on 127.0.0.1; the load comes from a separate
process (wrk when installed, else :mod:`bench.loadgen` in a subprocess), bounded in
time, in interleaved rounds. posthog-web sends to the local inbox (another process
on the same two cores: its CPU is a cost this machine pays that PostHog Cloud would not).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench import scenarios
from bench.stats import fmt, median, ratio, table

ROOT = Path(__file__).resolve().parent.parent
PATH = "/"
HEADERS = {
    "User-Agent": scenarios.CHROME,
    "Accept": "text/html,application/xhtml+xml",
    "Accept-Language": "en-GB,en;q=0.9",
}
TARGETS = {
    # name: (server, variant)
    "uvicorn Starlette bare": ("uvicorn", "bare"),
    "uvicorn Starlette posthog-web": ("uvicorn", "posthog-web"),
    "gunicorn Django bare": ("gunicorn", "bare"),
    "gunicorn Django posthog-web": ("gunicorn", "posthog-web"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(server: str, variant: str, port: int) -> tuple[list[str], Path]:
    bindir = Path(sys.executable).parent
    if server == "uvicorn":
        app = "bench.server_apps:starlette_" + ("bare" if variant == "bare" else "posthog")
        return [
            str(bindir / "uvicorn"),
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ], ROOT
    settings = "bench.server_django_bare" if variant == "bare" else "shop.settings"
    return [
        str(bindir / "gunicorn"),
        "shop.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--pythonpath",
        str(ROOT),
        "--env",
        f"DJANGO_SETTINGS_MODULE={settings}",
    ], ROOT / "example_django"


class Server:
    """One server process, started and waited for."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        server, variant = TARGETS[name]
        self.name = name
        self.port = _free_port()
        command, cwd = _command(server, variant, self.port)
        self.proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"{self.name} exited: {err[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{PATH}", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout} s")

    def cpu_seconds(self) -> float:
        """CPU time of the server process and its children so far (Linux /proc)."""
        total = 0.0
        for pid in [self.proc.pid, *_children(self.proc.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _wrk(port: int, headers: dict[str, str], connections: int, duration: float) -> dict[str, Any]:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}{PATH}")
    out = subprocess.run(command, capture_output=True, text=True, timeout=duration + 60, check=True)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    latency = {
        p: re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out.stdout, re.MULTILINE)
        for p in ("50", "99")
    }
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    if rps is None or latency["99"] is None or latency["50"] is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out.stdout}")
    return {
        "rps": float(rps.group(1)),
        "p50_ms": float(latency["50"].group(1)) * _UNITS[latency["50"].group(2)],
        "p99_ms": float(latency["99"].group(1)) * _UNITS[latency["99"].group(2)],
        "errors": int(errors.group(1)) if errors else 0,
    }


def _loadgen(
    port: int, headers: dict[str, str], connections: int, duration: float
) -> dict[str, Any]:
    code = (
        "import json, sys; from bench import loadgen; "
        "a = json.loads(sys.argv[1]); "
        "print(json.dumps(loadgen.run('127.0.0.1', a['port'], a['path'], a['headers'], "
        "connections=a['connections'], duration=a['duration'])))"
    )
    arg = {
        "port": port,
        "path": PATH,
        "headers": headers,
        "connections": connections,
        "duration": duration,
    }
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arg)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def load_tool() -> str:
    return "wrk" if shutil.which("wrk") else "bench/loadgen.py"


def measure_servers(
    *,
    rounds: int,
    duration: float,
    connections: int = 8,
    targets: tuple[str, ...] = tuple(TARGETS),
    seed: int = 0,
    progress: Any = None,
) -> dict[str, Any]:
    """Start every target, then interleave bounded load runs against them."""
    from bench.inbox_process import InboxProcess

    load = _wrk if shutil.which("wrk") else _loadgen
    name, value = scenarios.posthog_js_cookie(time.time_ns() // 1_000_000)
    headers = {**HEADERS, "Cookie": f"{name.replace(scenarios.API_KEY, 'phc_example')}={value}"}
    runs: list[dict[str, Any]] = []
    rng = random.Random(seed)
    with InboxProcess() as inbox, tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "POSTHOG_HOST": inbox.url,
            "POSTHOG_API_KEY": "phc_example",
            "EXAMPLE_DEBUG": "0",
            "EXAMPLE_DB": str(Path(tmp) / "example.sqlite3"),
            "PYTHONPATH": str(ROOT),
        }
        servers: list[Server] = []
        try:
            for target in targets:
                servers.append(Server(target, env))
            for server in servers:
                load(server.port, headers, connections, min(1.0, duration))
            for round_no in range(1, rounds + 1):
                order = servers[:]
                rng.shuffle(order)
                for server in order:
                    cpu0 = server.cpu_seconds()
                    result = load(server.port, headers, connections, duration)
                    result["server_cpu_s"] = server.cpu_seconds() - cpu0
                    result["target"] = server.name
                    runs.append(result)
                if progress is not None:
                    progress(f"servers: round {round_no}/{rounds}")
        finally:
            for server in servers:
                server.stop()
        stored = inbox.count()
    return {
        "runs": runs,
        "events_stored": stored,
        "tool": load_tool(),
        "connections": connections,
        "duration": duration,
    }


def report(result: dict[str, Any]) -> str:
    by_target: dict[str, list[dict[str, Any]]] = {}
    for run in result["runs"]:
        by_target.setdefault(run["target"], []).append(run)
    rows = []
    for target, items in by_target.items():
        bare = by_target.get(" ".join(target.split()[:2]) + " bare", [])
        rps = [r["rps"] for r in items]
        p99 = [r["p99_ms"] for r in items]
        rows.append(
            (
                target,
                f"{median(rps):,.0f} ({min(rps):,.0f}-{max(rps):,.0f})",
                fmt(median([r["p50_ms"] for r in items]), 2),
                f"{fmt(median(p99), 2)} ({min(p99):.2f}-{max(p99):.2f})",
                fmt(ratio(median(rps), median([r["rps"] for r in bare])), 2),
                fmt(
                    median(
                        [
                            r["server_cpu_s"] * 1e6 / max(1.0, r["rps"] * result["duration"])
                            for r in items
                        ]
                    ),
                    0,
                ),
                sum(r["errors"] for r in items),
            )
        )
    return (
        f"{result['tool']}, {result['connections']} connections, {result['duration']:g} s per run, "
        f"{len(result['runs']) // max(1, len(by_target))} runs per server; the inbox stored "
        f"{result['events_stored']:,} events\n\n"
        + table(
            (
                "server",
                "requests/s median (min-max)",
                "p50 ms",
                "p99 ms (min-max)",
                "x bare requests/s",
                "server CPU µs/request",
                "errors",
            ),
            rows,
        )
    )
