"""Issue 9's targets, checked against one run's medians."""

from __future__ import annotations

from typing import Any

from bench import scenarios
from bench.requests_bench import RequestResults
from bench.stats import fmt, median, ratio, table

NON_PAGE = ("api", "excluded", "bot")


def _row(
    what: str, value: float, limit: float, *, at_most: bool = True, digits: int = 2
) -> tuple[str, str, str, str]:
    if value != value:
        return (what, "-", f"{'<=' if at_most else '>='} {limit:g}", "not measured")
    ok = value <= limit if at_most else value >= limit
    return (
        what,
        fmt(value, digits),
        f"{'<=' if at_most else '>='} {limit:g}",
        "met" if ok else "**not met**",
    )


def check(
    requests: RequestResults | None,
    calls: Any | None,
    delivery: list[dict[str, Any]] | None,
) -> str:
    """A table: each target, the measured ratio, the limit and whether it is met."""
    rows = []
    if requests is not None:
        for framework in requests.labels:
            for scenario in sorted(scenarios.PAGE_SCENARIOS):
                pw = requests.overhead(framework, scenario, "posthog_web")
                lb = requests.overhead(framework, scenario, "lower_bound")
                ph = requests.overhead(framework, scenario, "ph_capture")
                rows.append(
                    _row(
                        f"{framework} `{scenario}`: posthog-web overhead / lower bound's",
                        ratio(pw, lb),
                        2,
                    )
                )
                rows.append(
                    _row(
                        f"{framework} `{scenario}`: posthog-web overhead / posthog-python's",
                        ratio(pw, ph),
                        0.2,
                    )
                )
            for scenario in NON_PAGE:
                pw = requests.overhead(framework, scenario, "posthog_web")
                lb = requests.overhead(framework, scenario, "lower_bound")
                rows.append(
                    _row(
                        f"{framework} `{scenario}`: posthog-web overhead / lower bound's",
                        ratio(pw, lb),
                        1.2,
                    )
                )
    if calls is not None:
        pw = median(calls.call_us.get("posthog_web", []))
        ph = median(calls.call_us.get("posthog_python", []))
        rows.append(
            _row("capture() call: posthog-web / posthog-python", ratio(pw, ph), 0.1, digits=3)
        )
    if delivery is not None:
        rate = {
            lib: median([r["events_per_s"] for r in delivery if r["library"] == lib])
            for lib in ("posthog-web", "posthog-python")
        }
        drop = {
            lib: median([r["dropped"] for r in delivery if r["library"] == lib])
            for lib in ("posthog-web", "posthog-python")
        }
        rows.append(
            _row(
                "delivered events/s: posthog-web / posthog-python",
                ratio(rate["posthog-web"], rate["posthog-python"]),
                3,
                at_most=False,
            )
        )
        rows.append(
            (
                "dropped: posthog-web vs posthog-python",
                f"{fmt(drop['posthog-web'], 0)} vs {fmt(drop['posthog-python'], 0)}",
                "fewer",
                "met" if drop["posthog-web"] < drop["posthog-python"] else "**not met**",
            )
        )
    return table(("target", "measured", "limit", ""), rows)
