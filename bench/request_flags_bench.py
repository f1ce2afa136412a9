"""What reading a feature flag adds to a request, and what a request that reads none pays.

``.venv/bin/python -m bench.request_flags_bench [--quick] [--breakdown] [--base DIR]``

In-process, like bench/requests_bench.py: the Starlette product page of bench/asgi_app.py
behind PostHogMiddleware, events posted over HTTP to the local inbox in another process
(so its CPU is not counted), the collector frozen after the warm-up. Variants differ
only in the view: ``no flag`` renders the page, ``one flag`` also calls
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

Interleaved rounds; a cell is the process CPU time of ``n`` requests plus the flush of
their events (the sender thread's encoding, gzip and HTTP post included) divided by
``n``; medians, and the paired per-round difference against ``no flag`` of the same kind.

``--breakdown``: also ``engine only`` (the flags engine called in the view, nothing
else) and ``properties only`` (the request's flag state set by hand: the page view's
two properties, their encoding, no evaluation), for the same visitor.

``--base DIR``: also run the ``no flag`` variant against another copy of the package
(``git archive <commit> posthog_web | tar -x -C DIR``), in alternating subprocesses, to
show that a request reading no flag costs what it cost before the flags existed.
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
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bench import scenarios
from bench.asgi_app import PAGE
from bench.flags_bench import three_condition_flag
from bench.inbox_process import InboxProcess
from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
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
    state.mark_read(FLAG)
    return HTMLResponse(PAGE)


#: ``--breakdown``: parts of the one-flag read, each alone.
BREAKDOWN_VIEWS: dict[str, Callable[..., Any]] = {
    "engine only": _engine_only,
    "properties only": _properties_only,
}
# More variants, for a breakdown run from another script.
EXTRA_VIEWS: dict[str, Callable[..., Any]] = {}


def _app(client: Client, view: Callable[..., Any]) -> Any:
    routes = [Route("/products/{product_id:int}", view)]
    return _Auth(
        PostHogMiddleware(
            Starlette(routes=routes),
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


def measure(variants: list[str], rounds: int, n: int) -> dict[str, list[float]]:
    """CPU µs per request for each variant, one sample per round."""
    table = {
        **VARIANTS,
        **{name: (view, "same") for name, view in BREAKDOWN_VIEWS.items()},
        **{name: (view, "same") for name, view in EXTRA_VIEWS.items()},
    }
    inbox = InboxProcess()
    client = Client(scenarios.API_KEY, host=inbox.url, flush_interval=0.05)
    has_flags = hasattr(client, "flags")
    if has_flags:
        client.flags.set_definitions(
            {
                "flags": [three_condition_flag(FLAG), SIMPLE_FLAG],
                "group_type_mapping": {},
                "cohorts": {},
            }
        )
    apps = {name: _app(client, table[name][0]) for name in variants}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    loop = asyncio.new_event_loop()
    try:
        for round_ in range(rounds + 1):  # the first round warms up
            order = list(variants)
            random.shuffle(order)
            for name in order:
                scopes = _scopes(table[name][1], n)

                async def serve(app: Any = apps[name], scopes: list[Any] = scopes) -> None:
                    for template in scopes:
                        scope = template.copy()
                        scope["state"] = {}
                        await app(scope, _receive, _send)

                client.flush(timeout=30)
                inbox.clear()
                gc.collect()
                if round_ == 1:
                    gc.freeze()  # what the warm-up made lives on: not the requests' cost
                start = time.process_time()
                loop.run_until_complete(serve())
                client.flush(timeout=30)
                spent = time.process_time() - start
                if round_:
                    samples[name].append(spent / n * 1e6)
    finally:
        gc.unfreeze()
        loop.close()
        client.shutdown(timeout=5)
        inbox.close()
    return samples


def _child(args: argparse.Namespace) -> int:
    print(json.dumps(measure(args.variants, args.rounds, args.n)))
    return 0


def _run_child(pythonpath: str, rounds: int, n: int, variants: list[str]) -> dict[str, list[float]]:
    env = {**os.environ, "PYTHONPATH": pythonpath}
    command = [sys.executable, "-m", "bench.request_flags_bench", "--child",
               "--rounds", str(rounds), "--n", str(n), "--variants", *variants]  # fmt: skip
    # Not from the checkout: `-m` puts the working directory first on sys.path, where
    # its posthog_web would shadow the one PYTHONPATH names first.
    out = subprocess.run(
        command, env=env, cwd=tempfile.gettempdir(), check=True, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    result: dict[str, list[float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--base", default=None, help="a directory holding another posthog_web")
    parser.add_argument("--breakdown", action="store_true", help="time parts of a read alone")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variants", nargs="+", default=["no flag"])
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (5 if args.quick else 15)
    args.n = args.n or (300 if args.quick else 2000)
    if args.child:
        return _child(args)
    root = str(Path(__file__).parents[1])
    names = list(VARIANTS)
    if args.breakdown:
        names += list(BREAKDOWN_VIEWS)
    samples = measure(names, args.rounds, args.n)
    print(f"{args.rounds} rounds x {args.n} requests, CPU µs per request (median), and what")
    print("each adds to the no-flag page of its traffic (median of the paired rounds, quartiles):")
    for name in names:
        base = "no flag, new visitor" if name.endswith("new visitor") else "no flag"
        diffs = [b - a for a, b in zip(samples[base], samples[name], strict=True)]
        added = "" if name == base else (
            f"  +{statistics.median(diffs):.1f} µs ({_quartiles(diffs)})"
        )  # fmt: skip
        print(f"  {name:<32} {statistics.median(samples[name]):7.1f}{added}")
    if args.base:
        base: list[float] = []
        new: list[float] = []
        for _ in range(3):  # alternating processes: base, this tree
            base += _run_child(f"{args.base}{os.pathsep}{root}", args.rounds, args.n, ["no flag"])[
                "no flag"
            ]
            new += _run_child(root, args.rounds, args.n, ["no flag"])["no flag"]
        print(f"  no flag, base package {args.base}: {statistics.median(base):7.1f}")
        print(f"  no flag, this tree:                {statistics.median(new):7.1f}")
    return 0


def _quartiles(values: list[float]) -> str:
    if len(values) < 4:
        return "n/a"
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"{q1:.1f} .. {q3:.1f}"


if __name__ == "__main__":
    sys.exit(main())
