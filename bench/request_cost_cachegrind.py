"""What a flag read costs a Django request, counted by cachegrind instead of timed.

``.venv/bin/python -m bench.request_cost_cachegrind [--root DIR] [--reps N] [VARIANT ...]``

On this shared machine the timing bench (bench/request_flags_django.py) tells a change
of a microsecond from noise only over many process pairs. Cachegrind counts instead:
each variant of bench/request_flags_django.py (default: ``no flag`` and ``one flag``)
runs in a subprocess under ``valgrind --tool=cachegrind --cache-sim=yes``, once with
100 and once with 600 requests after the same warm-up, and the difference over the 500
requests is one request's instructions, first-level (I1 + D1) misses and last-level
misses on the request path (the subprocess exits before the events are delivered):
start-up and warm-up cancel out. Estimated cycles weigh them as Ir + 10 x
first-level misses + 100 x last-level misses. Addresses and hashes are fixed
(``setarch -R``, ``PYTHONHASHSEED=0``); counts still move by about 3 % of a flag
read's between runs, so ``--reps`` (default 2) repeats the whole measurement.

``--root DIR``: the package from another tree (``git archive <commit> posthog_web |
tar -x -C DIR``), the bench from this one, to compare a change with what came before.
Needs valgrind (Debian's ``valgrind``); about 2 minutes per subprocess, two at a time.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHORT, LONG = 100, 600
WARM_UP = 300
_SUMMARY = re.compile(r"^==\d+== (I {3}refs|I1 {2}misses|D1 {2}misses|LL misses):\s+([\d,]+)", re.M)
# Where the subprocess takes the package from (empty: this repo).
_ROOT_ENV = "BENCH_PACKAGE_ROOT"
_FIELDS = {"I   refs": "ir", "I1  misses": "i1", "D1  misses": "d1", "LL misses": "ll"}


@dataclass(frozen=True)
class Counts:
    """Cachegrind's totals for one run, or one request's share of them."""

    ir: float
    i1: float
    d1: float
    ll: float

    @property
    def cycles(self) -> float:
        """Estimated cycles: Ir + 10 x first-level misses + 100 x last-level misses."""
        return self.ir + 10 * (self.i1 + self.d1) + 100 * self.ll

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.ir - other.ir, self.i1 - other.i1, self.d1 - other.d1, self.ll - other.ll
        )

    def per(self, n: int) -> Counts:
        return Counts(self.ir / n, self.i1 / n, self.d1 / n, self.ll / n)


def parse_summary(text: str) -> Counts:
    """The totals in cachegrind's closing summary (a ValueError if one is missing)."""
    found = {_FIELDS[name]: int(value.replace(",", "")) for name, value in _SUMMARY.findall(text)}
    missing = sorted(set(_FIELDS.values()) - set(found))
    if missing:
        raise ValueError(f"cachegrind summary without {', '.join(missing)}")
    return Counts(**found)


def serve(
    variant: str, n: int, warm_up: int = WARM_UP, then: Callable[[], None] | None = None
) -> None:
    """Serve ``warm_up`` then ``n`` requests of ``variant`` in this process, then call
    ``then`` (the counted subprocess exits there: the client's shutdown would flush the
    events, and the request path's count would include their delivery)."""
    from django.core.handlers.wsgi import WSGIHandler

    from bench import request_flags_django as django_bench
    from bench import scenarios
    from bench.inbox_process import InboxProcess
    from bench.request_flags_bench import flags_client

    inbox = InboxProcess()
    client = flags_client(inbox)
    try:
        with django_bench._django(client):
            handler = WSGIHandler()
            environ = django_bench.variant_environ(
                scenarios.wsgi_environ(scenarios.build("page")), variant
            )

            def requests(count: int) -> None:
                for _ in range(count):
                    each = environ.copy()
                    each["wsgi.input"] = io.BytesIO(b"")
                    if (status := django_bench.respond(handler, each)) != 200:
                        raise RuntimeError(f"{variant}: HTTP {status}")

            requests(warm_up)
            gc.collect()
            gc.freeze()  # as the timing bench: what the warm-up made is not the requests'
            requests(n)
            django_bench.check_reads([variant])
            if then is not None:
                then()
    finally:
        client.shutdown(timeout=5)
        inbox.close()


def _count(variant: str, n: int, root: Path | None) -> Counts:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("bench.request_cost_cachegrind needs valgrind (apt-get install valgrind)")
    command = [valgrind, "--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=/dev/null"]
    command += [sys.executable, "-m", "bench.request_cost_cachegrind", "--serve", variant, str(n)]
    if setarch := shutil.which("setarch"):
        command = [setarch, os.uname().machine, "-R", *command]
    env = {**os.environ, "PYTHONHASHSEED": "0", _ROOT_ENV: str(root) if root else ""}
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{variant} x {n}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return parse_summary(done.stderr)


def measure(variants: list[str], reps: int, root: Path | None) -> dict[str, list[Counts]]:
    """Per variant, one request's counts in each repetition."""
    runs = [(rep, name, n) for rep in range(reps) for name in variants for n in (SHORT, LONG)]
    with ThreadPoolExecutor(max_workers=2) as pool:  # counts do not depend on the load
        totals = list(pool.map(lambda run: _count(run[1], run[2], root), runs))
    by_run = dict(zip(runs, totals, strict=True))
    return {
        name: [
            (by_run[(rep, name, LONG)] - by_run[(rep, name, SHORT)]).per(LONG - SHORT)
            for rep in range(reps)
        ]
        for name in variants
    }


def _serve_main(variant: str, n: str) -> int:
    root = os.environ.get(_ROOT_ENV)
    if root:  # before the first import of the package (``-m`` puts this repo first)
        sys.path.insert(0, root)

    def exit_now() -> None:
        import posthog_web

        if root and not str(posthog_web.__file__).startswith(root):
            raise SystemExit(f"posthog_web came from {posthog_web.__file__}, not {root}")
        sys.stdout.flush()
        os._exit(0)  # before the shutdown's flush: its delivery is not the request path's

    serve(variant, int(n), then=exit_now)
    raise RuntimeError("serve() returned without exiting")


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["--serve"] and len(given) == 3:  # before anything imports the package
        return _serve_main(given[1], given[2])
    from bench.request_flags_django import VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", metavar="VARIANT", help=f"of {list(VARIANTS)}")
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    variants = args.variants or ["no flag", "one flag"]
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    results = measure(variants, args.reps, args.root.resolve() if args.root else None)
    base = variants[0]
    print(f"Django, one request's cachegrind counts ({LONG} - {SHORT} requests, /500),")
    print(f"{args.reps} repetitions; each figure is their median, 'adds' is against {base!r}:")
    print(f"  {'':<25} {'Ir':>9} {'I1 miss':>8} {'D1 miss':>8} {'LL':>4} {'est. cycles':>12}  adds")
    for name in variants:
        counts = results[name]
        med = Counts(
            *(statistics.median(getattr(c, f) for c in counts) for f in ["ir", "i1", "d1", "ll"])
        )
        adds = [
            f"{(c - b).ir:+.0f} Ir / {(c - b).cycles:+.0f} cyc"
            for c, b in zip(counts, results[base], strict=True)
        ]
        print(
            f"  {name:<25} {med.ir:>9.0f} {med.i1:>8.0f} {med.d1:>8.0f} {med.ll:>4.0f}"
            f" {med.cycles:>12.0f}  {', '.join(adds) if name != base else ''}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
