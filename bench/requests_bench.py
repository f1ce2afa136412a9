"""Per-request cost of each middleware variant, in-process, in interleaved rounds.

A cell is (framework, scenario, variant). Each round runs every cell once, in a new
random order, as ``n`` requests followed by a flush of the variant's client: the CPU
time of the whole process over that span (``time.process_time``: the request loop
*and* the sender thread encoding, compressing and posting) divided by ``n`` is the
cost per request. The local inbox runs in another process, so its CPU is not counted.
"""

from __future__ import annotations

import gc
import importlib.util
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import lower_bound, scenarios
from bench.stats import fmt, median, ratio, spread, table
from posthog_web import Client

FRAMEWORKS = ("Starlette", "Django")


def peers_available() -> bool:
    """Whether posthog-python is installed (bench/.venv: yes; the repo's .venv: no)."""
    return importlib.util.find_spec("posthog") is not None


@dataclass
class Cell:
    """The samples of one (framework, scenario, variant)."""

    cpu_us: list[float] = field(default_factory=list)
    wall_us: list[float] = field(default_factory=list)
    events_per_request: float = 0.0
    status: int = 0


@dataclass
class RequestResults:
    """Every cell's samples, plus the labels needed to print them."""

    rounds: int
    n: dict[str, int]
    cells: dict[tuple[str, str, str], Cell]
    labels: dict[str, dict[str, str]]

    def samples(self, framework: str, scenario: str, variant: str) -> Cell | None:
        return self.cells.get((framework, scenario, variant))

    def overheads(self, framework: str, scenario: str, variant: str) -> list[float]:
        """CPU µs per request above the bare app, paired round by round."""
        cell, bare = (
            self.samples(framework, scenario, variant),
            self.samples(framework, scenario, "bare"),
        )
        if cell is None or bare is None:
            return []
        return [v - b for v, b in zip(cell.cpu_us, bare.cpu_us, strict=True)]

    def overhead(self, framework: str, scenario: str, variant: str) -> float:
        return median(self.overheads(framework, scenario, variant))


class _Counters:
    """Events each variant recorded, read outside the timed span."""

    def __init__(self, pw_client: Client) -> None:
        self.pw_client = pw_client

    def read(self, variant: str) -> int:
        if variant == "posthog_web":
            return self.pw_client.stats()["queued"]
        if variant == "lower_bound":
            return len(lower_bound.EVENTS)
        if variant == "ph_capture":
            from bench import peers

            return peers.CAPTURED[0] + peers.REFUSED[0]
        return 0


def measure_requests(
    inbox_url: str,
    *,
    rounds: int,
    n: dict[str, int],
    frameworks: tuple[str, ...] = FRAMEWORKS,
    scenario_names: tuple[str, ...] = tuple(scenarios.SCENARIOS),
    variants: set[str] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> RequestResults:
    """Run the interleaved rounds; ``n`` is the requests per cell for each framework."""
    pw_client = Client(scenarios.API_KEY, host=inbox_url)
    ph_client = None
    if peers_available():
        from bench import peers

        ph_client = peers.make_client(inbox_url)
    harnesses: list[Any] = []
    settings_cm = None
    try:
        if "Starlette" in frameworks:
            from bench.asgi_app import VARIANTS, StarletteHarness

            harnesses.append((StarletteHarness(pw_client, ph_client, variants), VARIANTS))
        if "Django" in frameworks:
            from bench import django_app

            settings_cm = django_app.django_settings(pw_client, ph_client)
            settings_cm.__enter__()
            harnesses.append((django_app.DjangoHarness(ph_client, variants), django_app.VARIANTS))
        return _rounds(harnesses, pw_client, ph_client, rounds, n, scenario_names, seed, progress)
    finally:
        gc.unfreeze()
        for harness, _ in harnesses:
            harness.close()
        if settings_cm is not None:
            settings_cm.__exit__(None, None, None)
        pw_client.shutdown(30)
        if ph_client is not None:
            ph_client.shutdown()


def _rounds(
    harnesses: list[Any],
    pw_client: Client,
    ph_client: Any,
    rounds: int,
    n: dict[str, int],
    scenario_names: tuple[str, ...],
    seed: int,
    progress: Callable[[str], None] | None,
) -> RequestResults:
    flushers: dict[str, Callable[[], object]] = {"posthog_web": lambda: pw_client.flush(60)}
    if ph_client is not None:
        flushers["ph_capture"] = lambda: ph_client.flush(60)
    counters = _Counters(pw_client)
    cells: dict[tuple[str, str, str], Cell] = {}
    plan = [
        (harness, scenario, variant)
        for harness, _ in harnesses
        for scenario in scenario_names
        for variant in harness.variants()
    ]
    rng = random.Random(seed)
    gc.collect()
    gc.freeze()
    # Round 0 warms every cell up (imports, caches, connections) and is not kept.
    for round_no in range(rounds + 1):
        warmup = round_no == 0
        order = plan[:]
        rng.shuffle(order)
        templates = {
            (h.framework, s): h.prepare(scenarios.build(s))
            for h, _ in harnesses
            for s in scenario_names
        }
        started = time.perf_counter()
        for harness, scenario, variant in order:
            count = max(5, n[harness.framework] // 10) if warmup else n[harness.framework]
            template = templates[harness.framework, scenario]
            flush = flushers.get(variant)
            before = counters.read(variant)
            gc.collect()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            status = harness.run(variant, template, count)
            wall1 = time.perf_counter()
            if flush is not None:
                flush()
            cpu1 = time.process_time()
            events = counters.read(variant) - before
            lower_bound.EVENTS.clear()
            if status != 200:
                raise RuntimeError(
                    f"{harness.framework} {variant} {scenario}: status {status}, not 200"
                )
            if warmup:
                continue
            cell = cells.setdefault((harness.framework, scenario, variant), Cell())
            cell.cpu_us.append((cpu1 - cpu0) / count * 1e6)
            cell.wall_us.append((wall1 - wall0) / count * 1e6)
            cell.events_per_request = events / count
            cell.status = status
        if warmup:
            # Everything imported and built so far is permanent: a collection before each
            # cell then costs microseconds, not the tens of ms a full heap scan takes.
            gc.collect()
            gc.freeze()
        if progress is not None:
            what = "warm-up" if warmup else f"round {round_no}/{rounds}"
            progress(f"requests: {what} took {time.perf_counter() - started:.1f} s")
    labels = {h.framework: labels for h, labels in harnesses}
    return RequestResults(rounds=rounds, n=n, cells=cells, labels=labels)


def report(results: RequestResults) -> str:
    """One table per framework and scenario."""
    parts = []
    for framework, labels in results.labels.items():
        for scenario in scenarios.SCENARIOS:
            bare = results.samples(framework, scenario, "bare")
            if bare is None:
                continue
            bare_cpu = median(bare.cpu_us)
            lb_overhead = results.overhead(framework, scenario, "lower_bound")
            rows = []
            for variant, label in labels.items():
                cell = results.samples(framework, scenario, variant)
                if cell is None:
                    continue
                overheads = results.overheads(framework, scenario, variant)
                over = median(overheads)
                rows.append(
                    (
                        label,
                        f"{fmt(median(cell.cpu_us))} ({spread(cell.cpu_us)})",
                        fmt(median(cell.wall_us)),
                        "-" if variant == "bare" else f"{fmt(over)} ({spread(overheads)})",
                        fmt(ratio(median(cell.cpu_us), bare_cpu), 2),
                        "-" if variant == "bare" else fmt(ratio(over, lb_overhead), 2),
                        fmt(cell.events_per_request, 2),
                    )
                )
            parts.append(
                f"#### {framework}, `{scenario}` ({scenarios.describe(scenario)}; "
                f"{results.n[framework]} requests x {results.rounds} rounds)\n\n"
                + table(
                    (
                        "variant",
                        "CPU µs/request median (min-max)",
                        "wall µs/request",
                        "overhead µs (min-max)",
                        "x bare",
                        "x lower-bound overhead",
                        "events/request",
                    ),
                    rows,
                )
            )
    return "\n\n".join(parts)


if __name__ == "__main__":  # pragma: no cover - a manual entry point
    from bench.inbox_process import InboxProcess

    with InboxProcess() as inbox:
        res = measure_requests(
            inbox.url, rounds=3, n={"Starlette": 300, "Django": 150}, progress=print
        )
    sys.stdout.write(report(res) + "\n")
