"""Where a page view's CPU goes, measured by taking parts away (no profiler overhead).

``bench/.venv/bin/python -m bench.breakdown [--framework Starlette] [--scenario page]``
runs the in-process benchmark's app (bench/asgi_app.py, bench/django_app.py) in
interleaved rounds: the bare app, posthog-web as configured, posthog-web with its sender
left out (``Client.enqueue`` does nothing), and then that again with one part replaced by
a constant result computed once. A part's cost is the overhead it removes, in CPU µs per
request, median of the rounds; the parts overlap a little (fewer allocations, warmer
caches), so they add up to about the total, not exactly. Profilers inflate small Python
functions several times over on this path; this does not.
"""

from __future__ import annotations

import argparse
import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from bench import scenarios
from bench.inbox_process import InboxProcess
from posthog_web import Client
from posthog_web import asgi as asgi_module
from posthog_web.asgi import exchange as asgi_exchange
from posthog_web.web import emitter as emitter_module
from posthog_web.web import visitor as visitor_module
from posthog_web.web.posthog_cookie import parse_posthog_cookie

Patch = tuple[object, str, object]


@contextmanager
def _patched(patches: list[Patch]) -> Iterator[None]:
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def _parts(tracker: Any, template: Any, framework: str) -> dict[str, list[Patch]]:
    """Each part of the request thread's work, and the patches that take it away."""
    request = scenarios.build("page")
    cookie = dict(h for h in request.headers).get("cookie", "")
    raw = dict(c.split("=", 1) for c in cookie.split("; ") if "=" in c).get(
        tracker._visitors.posthog_js_cookie or ""
    )
    parsed = (
        parse_posthog_cookie(raw, now_ms=time.time_ns() // 1_000_000, idle_timeout_ms=1_800_000)
        if raw
        else None
    )
    view = asgi_module.request_view(scenarios.asgi_scope(request))
    props = tracker._emitter.properties.pageview(view, title="product", route="/r", view="v")
    parts: dict[str, list[Patch]] = {
        "posthog-js cookie: percent-decoding, JSON, checks": [
            (visitor_module, "parse_posthog_cookie", lambda *a, **k: parsed)
        ],
        "page-view properties: URL masking, referrer, UA fields, language, campaign": [
            (tracker._emitter.properties, "pageview", lambda *a, **k: dict(props))
        ],
        "the event's UUIDv7": [(emitter_module, "uuid7", lambda: "0" * 36)],
        "the event dict: $lib, timestamp": [
            (
                emitter_module,
                "new_event",
                lambda event, distinct_id, properties, **k: {"properties": properties},
            )
        ],
        "the page-view rules (request, then response)": [
            (type(tracker), "request_excluded", lambda self, request: False),
            (type(tracker), "is_pageview", lambda self, request, response, **k: True),
        ],
        "consent: GPC/DNT headers, posthog-js opt-out cookie": [
            (type(tracker._visitors), "opted_out", lambda self, request: False)
        ],
    }
    if framework == "Starlette":
        parts["the request view: ASGI headers decoded"] = [
            (asgi_exchange, "request_view", lambda scope: view)
        ]
        parts["route, view and route name from the scope"] = [
            (asgi_exchange, "route_view_name", lambda scope, root: ("/r", "v", "product"))
        ]
        parts["request.state.posthog and current(): scope state, context variable"] = [
            (asgi_exchange, "attach", lambda scope, helper: None),
            (asgi_exchange, "bind", lambda helper: None),
            (asgi_exchange, "unbind", lambda token: None),
        ]
    return parts


def measure(framework: str, scenario: str, rounds: int, n: int) -> list[tuple[str, float]]:
    """(part, µs per request) rows: the totals first, then each part."""
    with InboxProcess() as inbox, ExitStack() as stack:
        client = Client(scenarios.API_KEY, host=inbox.url)
        harness: Any
        if framework == "Starlette":
            from bench.asgi_app import StarletteHarness

            harness = StarletteHarness(client, None, {"bare", "posthog_web"})
        else:
            from bench import django_app

            stack.enter_context(django_app.django_settings(client, None))
            harness = django_app.DjangoHarness(None, {"bare", "posthog_web"})
        stack.callback(harness.close)
        template = harness.prepare(scenarios.build(scenario))
        harness.run("posthog_web", template, 50)  # Starlette builds its stack on first use
        tracker = _tracker(harness, framework)
        no_send: list[Patch] = [(type(client), "enqueue", lambda self, event: None)]

        def cpu(variant: str, flush: bool) -> float:
            gc.collect()
            start = time.process_time()
            harness.run(variant, template, n)
            if flush:
                client.flush(60)
            return (time.process_time() - start) / n * 1e6

        cells: dict[str, Callable[[], float]] = {
            "total": lambda: cpu("posthog_web", True),
            "request thread": lambda: _under(no_send, lambda: cpu("posthog_web", False)),
        }
        for label, patches in _parts(tracker, template, framework).items():
            both = no_send + patches
            cells[label] = functools.partial(_under, both, lambda: cpu("posthog_web", False))
        samples: dict[str, list[float]] = {key: [] for key in cells}
        bare: list[float] = []
        for round_no in range(rounds + 1):
            base = cpu("bare", False)
            values = {key: measure_cell() for key, measure_cell in cells.items()}
            if round_no == 0:
                continue  # warm-up
            bare.append(base)
            for key, value in values.items():
                samples[key].append(value - base)
        client.shutdown(30)
    median = {key: statistics.median(values) for key, values in samples.items()}
    sender = median["total"] - median["request thread"]
    rows = [
        ("bare app (CPU µs per request)", statistics.median(bare)),
        ("posthog-web overhead, sender included", median["total"]),
        ("of which the sender thread (JSON, gzip, POST)", sender),
        ("of which the request thread", median["request thread"]),
    ]
    for key in cells:
        if key not in ("total", "request thread"):
            rows.append((f"- {key}", median["request thread"] - median[key]))
    return rows


def _under(patches: list[Patch], run: Callable[[], float]) -> float:
    with _patched(patches):
        return run()


def _tracker(harness: Any, framework: str) -> Any:
    if framework == "Starlette":
        stack = harness.apps["posthog_web"].middleware_stack
        while stack is not None and not isinstance(stack, asgi_module.PostHogMiddleware):
            stack = getattr(stack, "app", None)
        assert stack is not None
        assert stack.tracker is not None
        return stack.tracker
    from posthog_web.django.conf import get_config

    tracker = get_config().tracker
    assert tracker is not None
    return tracker


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=("Starlette", "Django"), default="Starlette")
    parser.add_argument("--scenario", choices=tuple(scenarios.SCENARIOS), default="page")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args(argv)
    rows = measure(args.framework, args.scenario, args.rounds, args.n)
    print(f"{args.framework} `{args.scenario}`, {args.rounds} rounds of {args.n} requests\n")
    print("| part | CPU µs per request |\n| --- | --- |")
    for label, value in rows:
        print(f"| {label} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
