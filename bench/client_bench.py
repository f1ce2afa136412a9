"""The cost of one ``capture()`` call in background mode, posthog-web vs posthog-python.

Interleaved rounds of ``n`` calls each. "call" is the wall time of the calls alone;
"CPU with delivery" is the process CPU time of the calls plus the flush that delivers
them to the local inbox, per call. Two floors show what the work itself costs: a dict
appended to a deque, and the same with JSON encoding.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import scenarios
from bench.requests_bench import peers_available
from bench.stats import fmt, median, ratio, spread, table
from posthog_web import Client

PROPERTIES = {"plan": "pro", "amount": 49.0, "currency": "EUR", "items": 3, "coupon": None}
LABELS = {
    "floor": "floor: dict + deque.append",
    "floor_json": "floor + json.dumps",
    "posthog_web": "posthog-web Client.capture()",
    "posthog_python": "posthog-python Posthog.capture()",
}


@dataclass
class CallResults:
    rounds: int
    n: int
    call_us: dict[str, list[float]] = field(default_factory=dict)
    cpu_us: dict[str, list[float]] = field(default_factory=dict)


def _floor(sink: deque[Any], encode: bool) -> Callable[[], None]:
    def capture() -> None:
        event = {
            "event": "checkout_completed",
            "distinct_id": "user_42",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
            "properties": dict(PROPERTIES),
        }
        sink.append(json.dumps(event) if encode else event)

    return capture


def measure_calls(
    inbox_url: str,
    *,
    rounds: int,
    n: int,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> CallResults:
    """Run the interleaved rounds of ``n`` calls per variant."""
    sink: deque[Any] = deque()
    pw = Client(scenarios.API_KEY, host=inbox_url)
    calls: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "floor": (_floor(sink, False), sink.clear),
        "floor_json": (_floor(sink, True), sink.clear),
        "posthog_web": (
            lambda: pw.capture("checkout_completed", distinct_id="user_42", properties=PROPERTIES),
            lambda: pw.flush(60),
        ),
    }
    ph = None
    if peers_available():
        from bench import peers

        ph = peers.make_client(inbox_url)
        calls["posthog_python"] = (
            lambda: ph.capture("checkout_completed", distinct_id="user_42", properties=PROPERTIES),
            lambda: ph.flush(60),
        )
    results = CallResults(rounds=rounds, n=n)
    rng = random.Random(seed)
    gc.collect()
    gc.freeze()
    try:
        for round_no in range(rounds + 1):
            order = list(calls)
            rng.shuffle(order)
            for key in order:
                call, flush = calls[key]
                count = max(5, n // 10) if round_no == 0 else n
                gc.collect()
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(count):
                    call()
                wall1 = time.perf_counter()
                flush()
                cpu1 = time.process_time()
                if round_no:
                    results.call_us.setdefault(key, []).append((wall1 - wall0) / count * 1e6)
                    results.cpu_us.setdefault(key, []).append((cpu1 - cpu0) / count * 1e6)
            if round_no == 0:
                gc.collect()
                gc.freeze()  # as in requests_bench: cheap collections between variants
            elif progress is not None:
                progress(f"client calls: round {round_no}/{rounds}")
        dropped = pw.stats()["dropped"]
        if dropped:
            raise RuntimeError(f"posthog-web dropped {dropped} events in the call benchmark")
    finally:
        gc.unfreeze()
        pw.shutdown(30)
        if ph is not None:
            ph.shutdown()
    return results


def report(results: CallResults) -> str:
    """The call-cost table, with ratios to posthog-python's capture()."""
    peer = median(results.call_us.get("posthog_python", []))
    rows = []
    for key, label in LABELS.items():
        if key not in results.call_us:
            continue
        call, cpu = results.call_us[key], results.cpu_us[key]
        rows.append(
            (
                label,
                f"{fmt(median(call), 2)} ({spread(call)})",
                f"{fmt(median(cpu), 2)} ({spread(cpu)})",
                fmt(ratio(median(call), peer), 3),
            )
        )
    return f"{results.n} calls x {results.rounds} rounds\n\n" + table(
        ("variant", "call µs median (min-max)", "CPU µs with delivery", "x posthog-python call"),
        rows,
    )
