"""Delivery throughput: ``n`` capture() calls in a tight loop from one thread, then flush.

Both libraries at their default settings, each run in a fresh process against the
local inbox (another process). Delivered counts are what the inbox stored; events/s
is delivered events over the time from the first call to the end of the flush.

``python -m bench.delivery_bench --library posthog-web --url URL --n 50000`` prints
one JSON result.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from bench.stats import fmt, median, ratio, table
from bench.subprocess_run import run_module

PROPERTIES = {"plan": "pro", "amount": 49.0, "currency": "EUR", "items": 3}
LIBRARIES = ("posthog-web", "posthog-python")


def deliver(library: str, url: str, n: int, flush_timeout: float = 300.0) -> dict[str, Any]:
    """Run the tight loop and the flush in this process; the caller counts what arrived."""
    if library == "posthog-web":
        from posthog_web import Client

        client: Any = Client("phc_bench", host=url)

        def capture(i: int) -> bool:
            client.capture("loop_event", distinct_id="user_42", properties={**PROPERTIES, "i": i})
            return True

        def finish() -> None:
            client.flush(flush_timeout)

    elif library == "posthog-python":
        from bench import peers

        client = peers.make_client(url)

        def capture(i: int) -> bool:
            return (
                client.capture(
                    "loop_event", distinct_id="user_42", properties={**PROPERTIES, "i": i}
                )
                is not None
            )

        def finish() -> None:
            client.flush(flush_timeout)

    else:
        raise ValueError(f"library must be one of {LIBRARIES}, not {library!r}")
    cpu0, start = time.process_time(), time.perf_counter()
    admitted = sum(capture(i) for i in range(n))
    loop_end = time.perf_counter()
    finish()
    end = time.perf_counter()
    cpu1 = time.process_time()
    result = {
        "library": library,
        "n": n,
        "admitted": admitted,
        "loop_s": loop_end - start,
        "total_s": end - start,
        "cpu_s": cpu1 - cpu0,
    }
    if library == "posthog-web":
        stats = client.stats()
        result["admitted"] = n - stats["dropped_queue_full"]
        result["library_dropped"] = stats["dropped"]
        client.shutdown(30)
    else:
        result["library_dropped"] = n - admitted
        client.shutdown()
    return result


def run_subprocess(library: str, url: str, n: int, timeout: float = 600.0) -> dict[str, Any]:
    """:func:`deliver` in a fresh interpreter."""
    args = ["--library", library, "--url", url, "--n", str(n)]
    return run_module("bench.delivery_bench", args, timeout)


def measure_delivery(
    inbox: Any,
    *,
    rounds: int,
    n: int,
    libraries: tuple[str, ...] = LIBRARIES,
    in_process: bool = False,
    seed: int = 0,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Interleaved rounds; each run adds ``delivered`` (what the inbox stored) to its result."""
    rng = random.Random(seed)
    runs = []
    for round_no in range(1, rounds + 1):
        order = list(libraries)
        rng.shuffle(order)
        for library in order:
            inbox.clear()
            if in_process:
                result = deliver(library, inbox.url, n)
            else:
                result = run_subprocess(library, inbox.url, n)
            result["delivered"] = inbox.count()
            result["dropped"] = n - result["delivered"]
            result["events_per_s"] = result["delivered"] / result["total_s"]
            runs.append(result)
        if progress is not None:
            progress(f"delivery: round {round_no}/{rounds}")
    return runs


def report(runs: list[dict[str, Any]]) -> str:
    """Medians per library and the ratio of delivered events per second."""
    by_library: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_library.setdefault(run["library"], []).append(run)
    peer = median([r["events_per_s"] for r in by_library.get("posthog-python", [])])
    rows = []
    for library, items in by_library.items():
        rate = [r["events_per_s"] for r in items]
        rows.append(
            (
                library,
                f"{items[0]['n']:,}",
                f"{median([r['delivered'] for r in items]):,.0f}",
                f"{median([r['dropped'] for r in items]):,.0f}",
                f"{median(rate):,.0f} ({min(rate):,.0f}-{max(rate):,.0f})",
                fmt(median([r["loop_s"] for r in items]), 2),
                fmt(median([r["total_s"] for r in items]), 2),
                fmt(median([r["cpu_s"] for r in items]), 2),
                fmt(ratio(median(rate), peer), 2),
            )
        )
    return f"{len(runs) // max(1, len(by_library))} runs per library, medians\n\n" + table(
        (
            "library",
            "capture() calls",
            "delivered",
            "dropped",
            "delivered events/s (min-max)",
            "loop s",
            "loop + flush s",
            "CPU s",
            "x posthog-python events/s",
        ),
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", choices=LIBRARIES, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--n", type=int, default=50_000)
    args = parser.parse_args(argv)
    print(json.dumps(deliver(args.library, args.url, args.n)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
