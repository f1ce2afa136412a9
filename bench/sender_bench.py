"""The sender thread's CPU per event: encode, batch, gzip and POST to the local inbox.

Events go in through the public calls (``Client.enqueue`` with page-view dicts as the
middleware builds them, or ``Client.capture``) in chunks of ``flush_at`` followed by a
flush, as a steadily busy app feeds the sender; ``--chunk 10000`` measures a backlog
instead. Only the sender thread's own CPU clock is read, so the callers' cost is not
counted, nor the inbox's (another process). Variants run in interleaved rounds.

``python -m bench.sender_bench [--n 5000] [--rounds 9] [--chunk 100] [--package NAME ...]``:
pass a second package name (a renamed copy of an older ``posthog_web`` on ``sys.path``)
to compare two versions in one process; ``--calls`` measures the ``capture()`` call
instead (wall time of the calls, interleaved the same way).
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import random
import time
from collections.abc import Callable
from typing import Any

from bench import scenarios
from bench.inbox_process import InboxProcess
from bench.stats import fmt, median, spread, table

#: A page view as the Starlette middleware builds it for the ``page`` scenario.
PAGEVIEW: dict[str, Any] = {
    "event": "$pageview",
    "distinct_id": "01a22b82-a53c-73e7-a1fa-9ebfff1ca8b9",
    "uuid": "01a230a9-013d-7dfa-a011-b5ce1f52f1e2",
    "timestamp": "2026-12-01T08:11:51.997715+00:00",
    "properties": {
        "$current_url": "https://shop.example.com/products/42?utm_source=newsletter&ref=1",
        "$host": "shop.example.com",
        "$pathname": "/products/42",
        "$referrer": "https://www.google.com/",
        "$referring_domain": "www.google.com",
        "$search_engine": "google",
        "$raw_user_agent": scenarios.CHROME,
        "$browser": "Chrome",
        "$browser_version": 131,
        "$os": "Mac OS X",
        "$os_version": "10.15.7",
        "$device_type": "Desktop",
        "$browser_language": "en-GB",
        "$browser_language_prefix": "en",
        "utm_source": "newsletter",
        "title": "product",
        "route": "/products/{product_id:int}",
        "view": "bench.asgi_app.product",
        "$session_id": "01a230a8-16dc-7b77-a8bf-44ed88536320",
        "$ip": "203.0.113.7",
        "$pageview_id": "01a230a9-013d-7dfa-a011-b5ce1f52f1e2",
        "$process_person_profile": False,
        "$lib": "posthog-web",
        "$lib_version": "0.1.0",
    },
}
CAPTURE_PROPERTIES = {"plan": "pro", "amount": 49.0, "currency": "EUR", "items": 3}
KINDS = ("pageview", "capture")


def _sender_cpu(client: Any) -> float:
    thread = client._sender._thread
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _feeder(client: Any, kind: str, n: int, chunk: int) -> Callable[[], None]:
    uuid7 = importlib.import_module(type(client).__module__.rsplit(".", 1)[0] + ".events").uuid7

    def feed() -> None:
        for start in range(0, n, chunk):
            if kind == "pageview":
                for _ in range(min(chunk, n - start)):
                    event = copy.deepcopy(PAGEVIEW)
                    event["uuid"] = uuid7()
                    client.enqueue(event)
            else:
                for i in range(min(chunk, n - start)):
                    properties = {**CAPTURE_PROPERTIES, "i": i}
                    client.capture("loop_event", distinct_id="user_42", properties=properties)
            client.flush(60)

    return feed


def measure(
    url: str,
    packages: list[str],
    *,
    n: int,
    rounds: int,
    chunk: int,
    flush_at: int | None = None,
    seed: int = 0,
) -> dict[tuple[str, str], list[float]]:
    """Sender CPU µs per event, per (package, kind), over interleaved rounds."""
    clients = _clients(url, packages, flush_at)
    feeds = {
        (name, kind): (clients[name], _feeder(clients[name], kind, n, chunk))
        for name in packages
        for kind in KINDS
    }
    results: dict[tuple[str, str], list[float]] = {}
    rng = random.Random(seed)
    try:
        for round_no in range(rounds + 1):
            order = list(feeds)
            rng.shuffle(order)
            for key in order:
                client, feed = feeds[key]
                client.capture("warm_up", distinct_id="user_42")
                client.flush(60)
                gc.collect()
                before = _sender_cpu(client)
                feed()
                spent = _sender_cpu(client) - before
                if round_no:
                    results.setdefault(key, []).append(spent / n * 1e6)
        for client in clients.values():
            if client.stats()["dropped"]:
                raise RuntimeError(f"{client!r} dropped events: {client.stats()}")
    finally:
        for client in clients.values():
            client.shutdown(30)
    return results


def _clients(url: str, packages: list[str], flush_at: int | None) -> dict[str, Any]:
    options = {} if flush_at is None else {"flush_at": flush_at}
    return {
        name: importlib.import_module(name).Client(scenarios.API_KEY, host=url, **options)
        for name in packages
    }


def measure_calls(
    url: str, packages: list[str], *, n: int, rounds: int, flush_at: int | None, seed: int = 0
) -> dict[str, list[float]]:
    """Wall µs per background ``capture()`` call, per package, over interleaved rounds."""
    clients = _clients(url, packages, flush_at)
    results: dict[str, list[float]] = {}
    rng = random.Random(seed)
    gc.collect()
    gc.freeze()
    try:
        for round_no in range(rounds + 1):
            order = list(clients)
            rng.shuffle(order)
            for name in order:
                capture = clients[name].capture
                start = time.perf_counter()
                for _ in range(n):
                    capture("checkout", distinct_id="user_42", properties=CAPTURE_PROPERTIES)
                spent = time.perf_counter() - start
                clients[name].flush(60)
                if round_no:
                    results.setdefault(name, []).append(spent / n * 1e6)
    finally:
        gc.unfreeze()
        for client in clients.values():
            client.shutdown(30)
    return results


def report(results: dict[tuple[str, str], list[float]], packages: list[str]) -> str:
    """One row per package and kind, with the ratio to the first package."""
    rows = []
    for kind in KINDS:
        first = median(results[(packages[0], kind)])
        for name in packages:
            values = results[(name, kind)]
            rows.append(
                (
                    kind,
                    name,
                    f"{fmt(median(values), 2)} ({spread(values)})",
                    fmt(median(values) / first, 2),
                )
            )
    return table(("events", "package", "sender CPU µs per event median (min-max)", "x first"), rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--chunk", type=int, default=100, help="events between flushes")
    parser.add_argument("--package", action="append", help="package(s) to compare")
    parser.add_argument("--calls", action="store_true", help="measure capture() calls instead")
    parser.add_argument("--flush-at", type=int, help="flush_at of every client (default: theirs)")
    args = parser.parse_args(argv)
    packages = args.package or ["posthog_web"]
    if args.calls:
        with InboxProcess() as inbox:
            calls = measure_calls(
                inbox.url, packages, n=args.n, rounds=args.rounds, flush_at=args.flush_at
            )
        print(f"capture() calls: {args.n} x {args.rounds} rounds\n")
        first = median(calls[packages[0]])
        rows = [
            (name, f"{fmt(median(v), 2)} ({spread(v)})", fmt(median(v) / first, 2))
            for name, v in calls.items()
        ]
        print(table(("package", "call µs median (min-max)", "x first"), rows))
        return 0
    with InboxProcess() as inbox:
        results = measure(
            inbox.url,
            packages,
            n=args.n,
            rounds=args.rounds,
            chunk=args.chunk,
            flush_at=args.flush_at,
        )
    print(f"{args.n} events x {args.rounds} rounds, chunks of {args.chunk}\n")
    print(report(results, packages))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
