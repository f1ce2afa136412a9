"""What the figures were measured on: the machine, Python, and the version of everything."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = (
    "posthog-web",
    "posthog",
    "starlette",
    "django",
    "asgiref",
    "requests",
    "urllib3",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-asgi",
    "uvicorn",
    "gunicorn",
    "pyinstrument",
)


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    """nproc, CPU, memory, load, OS and Python."""
    info = {
        "nproc": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    try:
        info["load average (1, 5, 15 min)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return info


def versions() -> dict[str, str]:
    """The installed version of every package the benchmark touches."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    wrk = shutil.which("wrk")
    if wrk:
        try:
            out = subprocess.run([wrk, "--version"], capture_output=True, text=True, timeout=5)
            found["wrk"] = (out.stdout or out.stderr).split()[1]
        except (OSError, IndexError, subprocess.SubprocessError):
            found["wrk"] = "installed"
    else:
        found["wrk"] = "not installed (bench/loadgen.py is used)"
    return found


def describe() -> str:
    """Machine and versions as two markdown lines."""
    m = ", ".join(f"{k}: {v}" for k, v in machine().items())
    v = ", ".join(f"{k} {val}" for k, val in versions().items())
    return f"Machine: {m}; {sys.executable}\n\nVersions: {v}"
