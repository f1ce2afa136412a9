"""What reading a feature flag adds to a request, and what a request that reads none pays.

``.venv/bin/python -m bench.request_flags_bench [--quick] [--breakdown] [--fastapi] [--base DIR]``

In-process, like bench/requests_bench.py: the Starlette product page of bench/asgi_app.py
behind PostHogMiddleware, the collector frozen after the warm-up. Variants differ only
in the view: ``no flag`` renders the page, ``one flag`` also calls
``request.state.posthog.get_feature_flag()`` on the 3-condition flag of
bench/flags_bench.py, ``one rollout flag`` on a 50 % rollout flag with two variants and
no property filter (both evaluated locally; the page view then carries ``$feature/<key>``
and ``$active_feature_flags``).

Two kinds of traffic:

* ``same visitor``: one logged-in user (person properties known) with a live posthog-js
  cookie, request after request: the steady state of a visitor browsing, whose
  ``$feature_flag_called`` went out on their first read.
* ``new visitor``: every request is another logged-in user with their own posthog-js
  cookie, seen for the first time by this process: nothing of theirs is cached, and the
  read also sends their ``$feature_flag_called`` (``one flag, no event`` leaves it out).

Each round serves ``n`` requests of every variant in one shuffled sequence, so the
variants share whatever the machine is doing, and times each request on its own
(``perf_counter_ns`` around the ASGI call); a variant's figure for the round is the mean
of its requests without the slowest 2 % (a preemption lands on one request; a collection
of the young generation, a cost of the request, lands on many and is kept). The sender
is idle meanwhile; then, per variant, ``n`` requests' events are flushed alone and the
process CPU time of the flush (encoding, gzip and the HTTP post to the local inbox, which
runs in another process) is the variant's delivery cost per request. Reported: medians
over the rounds, and what each variant adds to the no-flag page of its traffic (the
median of the paired per-round differences, with quartiles), request and delivery.

``--breakdown``: also ``helper only`` (``request.state.posthog`` alone: Starlette's
state lookup), ``engine only`` (the flags engine called in the view, nothing else),
``properties only`` (the request's flag state set by hand: the page view's two
properties and their encoding, no evaluation) and ``one flag via current()`` (the read
through ``posthog_web.current()`` instead of ``request.state``), for the same visitor.

``--fastapi``: also ``FastAPI: no flag`` and ``FastAPI: one flag``, the same page as a
FastAPI endpoint that takes the helper from the ``PostHog`` dependency (both declare it,
so FastAPI's dependency work is in both, and the difference is the read).

``--base DIR``: also run the ``no flag`` variant (or those ``--base-variants`` names)
against another copy of the package (``git archive <commit> posthog_web | tar -x -C
DIR``), in 3 pairs of alternating subprocesses: that a request reading no flag costs
what it cost before the flags existed, or what a change did to a flag read.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bench import scenarios
from bench.asgi_app import PAGE
from bench.flags_bench import three_condition_flag
from bench.inbox_process import InboxProcess
from posthog_web import Client, current
from posthog_web.asgi import PostHogMiddleware
from posthog_web.fastapi import PostHog
from posthog_web.flags.results import FlagResult
from posthog_web.web.request_flags import RequestFlags

FLAG = "checkout-test"
SIMPLE = "new-banner"
# The most common kind of flag: a rollout percentage and variants, no property filter.
SIMPLE_FLAG = {
    "id": 2, "key": SIMPLE, "active": True, "version": 1,
    "filters": {"groups": [{"properties": [], "rollout_percentage": 50}],
                "multivariate": {"variants": [{"key": "control", "rollout_percentage": 50},
                                              {"key": "test", "rollout_percentage": 50}]}},
}  # fmt: skip
PERSON = {"email": "ann@example.com", "plan": "pro", "age": 30, "app_version": "2.3.0"}


class _User:
    is_authenticated = True

    def __init__(self, identity: str) -> None:
        self.identity = identity


_SAME_USER = _User("user-42")
#: The scope key naming the request's user (``new visitor`` traffic).
_USER_KEY = "bench.user"


class _Auth:
    """An auth middleware in front: the request's user (``scope["user"]``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["user"] = scope.pop(_USER_KEY, _SAME_USER)
        await self.app(scope, receive, send)


async def _page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def _page_with_flag(request: Request) -> Response:
    request.state.posthog.get_feature_flag(FLAG)
    return HTMLResponse(PAGE)


async def _page_with_simple_flag(request: Request) -> Response:
    request.state.posthog.get_feature_flag(SIMPLE)
    return HTMLResponse(PAGE)


async def _page_with_flag_no_event(request: Request) -> Response:
    request.state.posthog.get_feature_flag(FLAG, send_event=False)
    return HTMLResponse(PAGE)


async def _engine_only(request: Request) -> Response:
    # The flags engine alone, as the helper calls it: no helper, no event properties.
    request.state.posthog._tracker.client.flags.evaluate(FLAG, "user-42", PERSON)
    return HTMLResponse(PAGE)


_RESULT = FlagResult(FLAG, "other", locally_evaluated=True)


async def _properties_only(request: Request) -> Response:
    # The request's flag state and the page view's two properties, with no evaluation.
    state = request.state.posthog._context.flags = RequestFlags("user-42")
    state.results[FLAG] = _RESULT
    state.mark_read(FLAG, _RESULT)
    return HTMLResponse(PAGE)


async def _helper_only(request: Request) -> Response:
    request.state.posthog  # noqa: B018 - Starlette's state lookup is what is measured
    return HTMLResponse(PAGE)


async def _flag_via_current(request: Request) -> Response:
    current().get_feature_flag(FLAG)
    return HTMLResponse(PAGE)


#: The value the FastAPI read gave last (the dependency's no-op helper would give None).
FASTAPI_VALUES: dict[str, bool | str | None] = {}


async def _fastapi_page(posthog: PostHog, product_id: int) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def _fastapi_page_with_flag(posthog: PostHog, product_id: int) -> HTMLResponse:
    FASTAPI_VALUES[FLAG] = posthog.get_feature_flag(FLAG)
    return HTMLResponse(PAGE)


#: ``--fastapi``: the page as a FastAPI endpoint, with and without the read.
FASTAPI_VIEWS: dict[str, Callable[..., Any]] = {
    "FastAPI: no flag": _fastapi_page,
    "FastAPI: one flag": _fastapi_page_with_flag,
}

#: ``--breakdown``: parts of the one-flag read, each alone.
BREAKDOWN_VIEWS: dict[str, Callable[..., Any]] = {
    "helper only": _helper_only,
    "engine only": _engine_only,
    "properties only": _properties_only,
    "one flag via current()": _flag_via_current,
}
# More variants, for a breakdown run from another script.
EXTRA_VIEWS: dict[str, Callable[..., Any]] = {}


def _app(client: Client, view: Callable[..., Any]) -> Any:
    if view in FASTAPI_VIEWS.values():
        app: Any = FastAPI()
        app.add_api_route("/products/{product_id}", view, methods=["GET"])
    else:
        app = Starlette(routes=[Route("/products/{product_id:int}", view)])
    return _Auth(
        PostHogMiddleware(
            app,
            client=client,
            secret_key=scenarios.SECRET,
            person_properties=lambda user: PERSON,
        )
    )


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


#: Variant name -> (view, traffic): ``new`` traffic is another visitor every request.
VARIANTS: dict[str, tuple[Callable[..., Any], str]] = {
    "no flag": (_page, "same"),
    "one rollout flag": (_page_with_simple_flag, "same"),
    "one flag": (_page_with_flag, "same"),
    "no flag, new visitor": (_page, "new"),
    "one flag, new visitor": (_page_with_flag, "new"),
    "one flag, no event, new visitor": (_page_with_flag_no_event, "new"),
}


def _scopes(traffic: str, n: int) -> list[dict[str, Any]]:
    """``n`` request scopes, built before the clock starts."""
    if traffic == "same":
        template = scenarios.asgi_scope(scenarios.build("page"))
        return [template] * n
    # Each its own user and posthog-js cookie (the cookie's ids are time-based uuid7s).
    scopes = []
    for index in range(n):
        scope = scenarios.asgi_scope(scenarios.build("page"))
        scope[_USER_KEY] = _User(f"user-{random.getrandbits(64):x}-{index}")
        scopes.append(scope)
    return scopes


@dataclass
class Samples:
    """Per variant, one figure per round: µs per request on the request path and for
    the delivery of its events."""

    request: dict[str, list[float]] = field(default_factory=dict)
    delivery: dict[str, list[float]] = field(default_factory=dict)

    def total(self, name: str) -> list[float]:
        return [a + b for a, b in zip(self.request[name], self.delivery[name], strict=True)]


#: The slowest requests of a variant left out of its round's mean (preemptions).
TRIM = 0.02


def _trimmed_mean(values: list[int]) -> float:
    values = sorted(values)
    kept = values[: max(1, len(values) - int(len(values) * TRIM))]
    return sum(kept) / len(kept) / 1000  # ns -> µs


def flags_client(inbox: InboxProcess) -> Client:
    """A client posting to ``inbox`` only on ``flush()``, with the bench's two flags."""
    # The sender waits for flush(): it never runs while requests are timed.
    client = Client(
        scenarios.API_KEY, host=inbox.url, flush_interval=3600, flush_at=10**7,
        max_queue_size=10**7,
    )  # fmt: skip
    if hasattr(client, "flags"):  # not in a --base tree from before the flags
        client.flags.set_definitions(
            {
                "flags": [three_condition_flag(FLAG), SIMPLE_FLAG],
                "group_type_mapping": {},
                "cohorts": {},
            }
        )
    return client


#: Serves a shuffled plan of (variant, request) and gives each variant's ns per request.
Serve = Callable[[list[tuple[str, Any]]], dict[str, list[int]]]


def timed_rounds(
    variants: list[str],
    rounds: int,
    requests: Callable[[str], list[Any]],
    serve: Serve,
    client: Client,
    inbox: InboxProcess,
) -> Samples:
    """Each variant's request and delivery µs per request, one figure per round:
    ``requests(name)`` builds a round's requests of a variant (before the clock starts),
    ``serve`` times them."""
    samples = Samples({name: [] for name in variants}, {name: [] for name in variants})
    try:
        for round_ in range(rounds + 1):  # the first round warms up
            plan = [(name, request) for name in variants for request in requests(name)]
            random.shuffle(plan)
            client.flush(timeout=60)
            inbox.clear()
            gc.collect()
            if round_ == 1:
                gc.freeze()  # what the warm-up made lives on: not the requests' cost
            spent = serve(plan)
            client.flush(timeout=60)
            order = list(variants)
            random.shuffle(order)
            delivery: dict[str, float] = {}
            for name in order:
                batch = requests(name)
                serve([(name, request) for request in batch])
                start_cpu = time.process_time()
                client.flush(timeout=60)
                delivery[name] = (time.process_time() - start_cpu) / len(batch) * 1e6
            if round_:
                for name in variants:
                    samples.request[name].append(_trimmed_mean(spent[name]))
                    samples.delivery[name].append(delivery[name])
    finally:
        gc.unfreeze()
    return samples


def measure(variants: list[str], rounds: int, n: int) -> Samples:
    """Each variant's request and delivery µs per request, one figure per round."""
    table = {
        **VARIANTS,
        **{name: (view, "same") for name, view in BREAKDOWN_VIEWS.items()},
        **{name: (view, "same") for name, view in EXTRA_VIEWS.items()},
        **{name: (view, "same") for name, view in FASTAPI_VIEWS.items()},
    }
    FASTAPI_VALUES.clear()
    inbox = InboxProcess()
    client = flags_client(inbox)
    apps = {name: _app(client, table[name][0]) for name in variants}
    clock = time.perf_counter_ns

    async def serve(plan: list[tuple[str, dict[str, Any]]]) -> dict[str, list[int]]:
        spent: dict[str, list[int]] = {name: [] for name in variants}
        for name, template in plan:
            app = apps[name]
            scope = template.copy()
            scope["state"] = {}
            start = clock()
            await app(scope, _receive, _send)
            spent[name].append(clock() - start)
        return spent

    loop = asyncio.new_event_loop()
    try:
        samples = timed_rounds(
            variants,
            rounds,
            lambda name: _scopes(table[name][1], n),
            lambda plan: loop.run_until_complete(serve(plan)),
            client,
            inbox,
        )
        if "FastAPI: one flag" in variants and FASTAPI_VALUES.get(FLAG) is None:
            # The dependency's no-op helper would be timed as a cheap read.
            raise RuntimeError("the FastAPI endpoint's flag read gave no value")
        return samples
    finally:
        loop.close()
        client.shutdown(timeout=5)
        inbox.close()


def _child(args: argparse.Namespace) -> int:
    print(json.dumps(asdict(measure(args.variants, args.rounds, args.n))))
    return 0


def _run_child(pythonpath: str, rounds: int, n: int, variants: list[str]) -> Samples:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    command = [sys.executable, "-m", "bench.request_flags_bench", "--child",
               "--rounds", str(rounds), "--n", str(n), "--variants", *variants]  # fmt: skip
    # Not from the checkout: `-m` puts the working directory first on sys.path, where
    # its posthog_web would shadow the one PYTHONPATH names first.
    out = subprocess.run(
        command, env=env, cwd=tempfile.gettempdir(), check=True, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    return Samples(**json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--base", default=None, help="a directory holding another posthog_web")
    parser.add_argument(
        "--base-variants",
        nargs="+",
        default=["no flag"],
        help="the variants --base compares (what each adds to the no-flag page, in all)",
    )
    parser.add_argument("--breakdown", action="store_true", help="time parts of a read alone")
    parser.add_argument(
        "--fastapi", action="store_true", help="also the page as a FastAPI endpoint"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variants", nargs="+", default=["no flag"])
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (5 if args.quick else 15)
    args.n = args.n or (300 if args.quick else 1000)
    if args.child:
        return _child(args)
    root = str(Path(__file__).parents[1])
    names = list(VARIANTS)
    if args.breakdown:
        names += list(BREAKDOWN_VIEWS)
    if args.fastapi:
        names += list(FASTAPI_VIEWS)
    samples = measure(names, args.rounds, args.n)
    print(f"{args.rounds} rounds x {args.n} requests of each variant, interleaved; µs per")
    print("request (median of rounds), and what each adds to the no-flag page of its traffic")
    print("(median of the paired rounds, quartiles):")
    head = f"  {'':<28} {'request':>8} {'delivery':>9}   {'adds: request':>24}"
    print(f"{head}  {'delivery':>6}  total")
    for name in names:
        base = "no flag, new visitor" if name.endswith("new visitor") else "no flag"
        if name in FASTAPI_VIEWS:
            base = "FastAPI: no flag"
        print(report_line(samples, name, base))
    if args.base:
        _compare(args.base, root, args.rounds, args.n, args.base_variants)
    return 0


def report_line(samples: Samples, name: str, base: str, width: int = 28) -> str:
    """``name``'s medians and, unless it is ``base``, what it adds to ``base``."""
    line = (
        f"  {name:<{width}} {statistics.median(samples.request[name]):8.1f}"
        f" {statistics.median(samples.delivery[name]):9.1f}"
    )
    if name == base:
        return line
    request = _differences(samples.request[base], samples.request[name])
    delivery = _differences(samples.delivery[base], samples.delivery[name])
    total = _differences(samples.total(base), samples.total(name))
    return (
        f"{line}   {statistics.median(request):+6.1f} ({_quartiles(request)})"
        f"  {statistics.median(delivery):+6.1f}  {statistics.median(total):+6.1f}"
        f" ({_quartiles(total)})"
    )


def _compare(base_dir: str, root: str, rounds: int, n: int, variants: list[str]) -> None:
    """The variants in 3 pairs of alternating processes: the package in ``base_dir``,
    then this tree's (request and delivery, in all)."""
    names = ["no flag", *(name for name in variants if name != "no flag")]
    runs: dict[str, dict[str, list[float]]] = {"base": {}, "tree": {}}
    for _ in range(3):
        for which, path in (("base", f"{base_dir}{os.pathsep}{root}"), ("tree", root)):
            samples = _run_child(path, rounds, n, names)
            page = samples.total("no flag")
            for name in names:
                figures = page if name == "no flag" else _differences(page, samples.total(name))
                runs[which].setdefault(name, []).extend(figures)
    print(f"3 pairs of alternating processes, {base_dir} (base) and this tree, in all:")
    for name in names:
        base, tree = runs["base"][name], runs["tree"][name]
        if name == "no flag":
            shown = f"{statistics.median(base):7.1f} -> {statistics.median(tree):7.1f}"
        else:
            shown = (
                f"{statistics.median(base):+7.1f} ({_quartiles(base)}) -> "
                f"{statistics.median(tree):+7.1f} ({_quartiles(tree)})"
            )
        print(f"  {name:<28} {shown}")


def _differences(base: list[float], variant: list[float]) -> list[float]:
    return [b - a for a, b in zip(base, variant, strict=True)]


def _quartiles(values: list[float]) -> str:
    if len(values) < 4:
        return "n/a"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:+.1f} .. {q3:+.1f}"


if __name__ == "__main__":
    sys.exit(main())
