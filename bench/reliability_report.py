"""Run the real-server reliability tests and print docs/reliability.md's table.

    .venv/bin/python bench/reliability_report.py [pytest -k expression]

Each test in tests/reliability/ prints one row (``RELIABILITY {...}``) and, with
``RELIABILITY_REPORT`` set, appends it to that file; this script runs them all (about
three minutes on a 2-core machine) and renders the rows with the command that
reproduces each one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def latency(row: dict[str, Any]) -> str:
    if "healthy_p50_ms" in row:
        return (
            f"p50/p99 {row['healthy_p50_ms']}/{row['healthy_p99_ms']} ms healthy, "
            f"{row['hanging_p50_ms']}/{row['hanging_p99_ms']} ms hanging"
        )
    if "rss_base_kib" in row:
        mib = [row[k] / 1024 for k in ("rss_base_kib", "rss_at_cap_kib", "rss_past_cap_kib")]
        return (
            f"RSS {mib[0]:.1f} → {mib[1]:.1f} MiB after {row['max_queue_size']} requests → "
            f"{mib[2]:.1f} → {row['rss_end_kib'] / 1024:.1f} MiB after 2 x 2000 more; "
            f"{row['bytes_per_queued_event']} B per event while filling"
        )
    return f"p50/p99 {row['p50_ms']}/{row['p99_ms']} ms"


def notes(row: dict[str, Any]) -> str:
    parts = [row["note"]] if row.get("note") else []
    if row.get("spooled"):
        parts.append(f"{row['spooled']} spooled")
    if row.get("spool_files"):
        parts.append(
            f"{row['spool_files']} spool files left at exit, stop took {row['stop_seconds']} s"
        )
    if row.get("workers"):
        parts.append("per worker " + " + ".join(str(n) for n in row["workers"]))
    if row.get("master_events"):
        parts.append(f"master's pre-fork event: {row['master_events']} time(s)")
    if row["requests"] != row["answered"]:
        parts.append(f"{row['requests'] - row['answered']} requests refused while stopping")
    return "; ".join(parts)


ORDER = ("test_steady", "test_outages", "test_memory")


def render(rows: list[dict[str, Any]]) -> str:
    rows = sorted(
        rows,
        key=lambda row: next(
            (i for i, name in enumerate(ORDER) if name in row["test"]), len(ORDER)
        ),
    )
    lines = [
        "| scenario | server | requests | events expected | received | duplicates | lost |"
        " latency effect | notes | command |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        command = f"`.venv/bin/python -m pytest '{row['test']}' -p no:cacheprovider -s`"
        lines.append(
            f"| {row['scenario']} | {row['server']} | {row['requests']} | {row['expected']} |"
            f" {row['received']} | {row['duplicates']} | {row['lost']} | {latency(row)} |"
            f" {notes(row)} | {command} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "rows.jsonl"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "tests/reliability",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        if argv:
            command += ["-k", " ".join(argv)]
        result = subprocess.run(
            command,
            cwd=ROOT,
            env={**os.environ, "RELIABILITY_REPORT": str(path)},
            stdout=sys.stderr,  # pytest's own output; the table alone goes to stdout
            check=False,
            timeout=900,
        )
        rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    print(render(rows))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
