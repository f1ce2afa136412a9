"""Memory with PostHog down: bytes per queued event, and RSS held flat by the queue cap.

Each library runs in a fresh process, sending to a loopback port nothing listens on
(connections are refused, so the sender keeps retrying its batch). The process puts
``multiple x max_queue_size`` events in chunks and reads its RSS after each chunk.

``python -m bench.memory_bench --library posthog-web`` prints one JSON result.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import socket
import tracemalloc
from typing import Any

from bench.stats import median, table
from bench.subprocess_run import run_module

LIBRARIES = ("posthog-web", "posthog-web-pageview", "posthog-python")
QUEUE_CAP = 10_000  # both libraries' default max_queue_size
PROPERTIES = {"plan": "pro", "amount": 49.0, "currency": "EUR", "items": 3}


def rss_bytes() -> int:
    """The resident set size of this process (Linux /proc; else the peak from getrusage)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def dead_url() -> str:
    """A loopback URL where nothing listens (a port bound once, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _producer(library: str, url: str) -> tuple[Any, Any]:
    if library == "posthog-python":
        from bench import peers

        client: Any = peers.make_client(url)

        def put(i: int) -> None:
            if (
                client.capture(
                    "queued_event", distinct_id="user_42", properties={**PROPERTIES, "i": i}
                )
                is None
            ):
                peers.REFUSED[0] += 1

        return client, put
    if library == "posthog-web":
        from posthog_web import Client

        client = Client("phc_bench", host=url)

        def put(i: int) -> None:
            client.capture("queued_event", distinct_id="user_42", properties={**PROPERTIES, "i": i})

        return client, put
    if library == "posthog-web-pageview":
        # Page views as the ASGI middleware queues them: a dict, encoded by the sender.
        from bench import scenarios
        from bench.asgi_app import StarletteHarness
        from posthog_web import Client

        client = Client(scenarios.API_KEY, host=url)
        harness = StarletteHarness(client, None, {"posthog_web"})
        template = harness.prepare(scenarios.build("page"))

        def put(i: int) -> None:
            harness.run("posthog_web", template, 1)

        return client, put
    raise ValueError(f"library must be one of {LIBRARIES}, not {library!r}")


def measure(library: str, multiple: int = 10, per_event_sample: int = 5_000) -> dict[str, Any]:
    """Run in this process: bytes per queued event, then RSS while ``multiple`` x the cap go in."""
    client, put = _producer(library, dead_url())
    for i in range(50):  # imports, caches, the sender thread
        put(i)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(per_event_sample):
        put(i)
    gc.collect()
    per_event = (tracemalloc.get_traced_memory()[0] - before) / per_event_sample
    tracemalloc.stop()
    samples = [rss_bytes()]
    chunk = QUEUE_CAP // 2
    for start in range(0, multiple * QUEUE_CAP, chunk):
        for i in range(start, start + chunk):
            put(i)
        gc.collect()
        samples.append(rss_bytes())
    result = {
        "library": library,
        "bytes_per_event": per_event,
        "events_put": per_event_sample + multiple * QUEUE_CAP,
        "rss_start": samples[0],
        "rss_at_cap": samples[2],
        "rss_end": samples[-1],
        "rss_max": max(samples),
    }
    if library.startswith("posthog-web"):
        result["dropped"] = client.stats()["dropped_queue_full"]
    else:
        from bench import peers

        result["dropped"] = peers.REFUSED[0]
    # No shutdown: with the server down, a flush would only wait out the retries.
    return result


def run_subprocess(library: str, multiple: int = 10, timeout: float = 180.0) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter."""
    args = ["--library", library, "--multiple", str(multiple)]
    return run_module("bench.memory_bench", args, timeout)


def measure_memory(
    *,
    rounds: int,
    multiple: int = 10,
    libraries: tuple[str, ...] = LIBRARIES,
    seed: int = 0,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Interleaved rounds of fresh processes."""
    rng = random.Random(seed)
    runs = []
    for round_no in range(1, rounds + 1):
        order = list(libraries)
        rng.shuffle(order)
        runs += [run_subprocess(library, multiple) for library in order]
        if progress is not None:
            progress(f"memory: round {round_no}/{rounds}")
    return runs


def report(runs: list[dict[str, Any]]) -> str:
    by_library: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_library.setdefault(run["library"], []).append(run)
    mib = 1024 * 1024
    rows = []
    for library, items in by_library.items():
        rows.append(
            (
                library,
                f"{median([r['bytes_per_event'] for r in items]):,.0f}",
                f"{items[0]['events_put']:,}",
                f"{median([r['dropped'] for r in items]):,.0f}",
                f"{median([r['rss_start'] for r in items]) / mib:.1f}",
                f"{median([r['rss_at_cap'] for r in items]) / mib:.1f}",
                f"{median([r['rss_end'] for r in items]) / mib:.1f}",
                f"{median([r['rss_max'] for r in items]) / mib:.1f}",
            )
        )
    return table(
        (
            "library (server down)",
            "bytes per queued event",
            "events put",
            "dropped",
            "RSS MiB before",
            "at the cap",
            "at the end",
            "max",
        ),
        rows,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--library", choices=LIBRARIES, required=True)
    parser.add_argument("--multiple", type=int, default=10, help="put this many times the cap")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.library, args.multiple)), flush=True)
    # Skip the libraries' exit flushes: they would retry against the dead port.
    os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
