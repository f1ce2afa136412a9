"""``python -m bench [--quick] [--only PART ...] [--out FILE]``: run and print the report.

Use ``bench/run``, which prepares bench/.venv first (see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import (
    client_bench,
    delivery_bench,
    machine,
    memory_bench,
    requests_bench,
    server_bench,
    targets,
)

PARTS = ("requests", "client", "delivery", "memory", "servers")


@dataclass(frozen=True)
class Mode:
    request_rounds: int
    request_n: dict[str, int]
    call_rounds: int
    call_n: int
    delivery_rounds: int
    delivery_n: int
    memory_rounds: int
    memory_multiple: int
    server_rounds: int
    server_seconds: float


QUICK = Mode(5, {"Starlette": 300, "Django": 150}, 5, 1000, 1, 50_000, 1, 3, 1, 3.0)
FULL = Mode(15, {"Starlette": 2000, "Django": 1000}, 15, 5000, 5, 50_000, 3, 10, 5, 10.0)


def _progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about a minute or two instead of ~10")
    parser.add_argument("--only", action="append", choices=PARTS, help="run only these parts")
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    parser.add_argument("--seed", type=int, default=0, help="seed of the round orders")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    parts = args.only or list(PARTS)
    started = time.perf_counter()
    described = machine.describe()  # the load average before the run, not after it
    sections: list[str] = []
    requests: Any = None
    calls: Any = None
    delivery: Any = None
    from bench.inbox_process import InboxProcess

    with InboxProcess() as inbox:
        if "requests" in parts:
            requests = requests_bench.measure_requests(
                inbox.url,
                rounds=mode.request_rounds,
                n=mode.request_n,
                seed=args.seed,
                progress=_progress,
            )
            sections.append("### Per request, in-process\n\n" + requests_bench.report(requests))
        if "client" in parts:
            inbox.clear()
            calls = client_bench.measure_calls(
                inbox.url,
                rounds=mode.call_rounds,
                n=mode.call_n,
                seed=args.seed,
                progress=_progress,
            )
            sections.append("### capture() call cost\n\n" + client_bench.report(calls))
        if "delivery" in parts:
            delivery = delivery_bench.measure_delivery(
                inbox,
                rounds=mode.delivery_rounds,
                n=mode.delivery_n,
                seed=args.seed,
                progress=_progress,
            )
            sections.append("### Delivery throughput\n\n" + delivery_bench.report(delivery))
    if "memory" in parts:
        memory = memory_bench.measure_memory(
            rounds=mode.memory_rounds,
            multiple=mode.memory_multiple,
            seed=args.seed,
            progress=_progress,
        )
        sections.append("### Memory, server down\n\n" + memory_bench.report(memory))
    if "servers" in parts:
        servers = server_bench.measure_servers(
            rounds=mode.server_rounds,
            duration=mode.server_seconds,
            seed=args.seed,
            progress=_progress,
        )
        sections.append("### Real servers\n\n" + server_bench.report(servers))
    header = (
        f"## posthog-web benchmark, {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}, "
        f"{'quick' if args.quick else 'full'} mode ({time.perf_counter() - started:.0f} s)\n\n"
        f"Command: `bench/run {shlex.join(argv if argv is not None else sys.argv[1:])}`\n\n"
        f"{described}\n\n"
    )
    if requests is not None or calls is not None or delivery is not None:
        header += "### Targets (issue 9)\n\n" + targets.check(requests, calls, delivery) + "\n\n"
    text = header + "\n\n".join(sections) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
