"""Profile posthog-web's middleware rounds: the request thread and the sender thread.

``python -m bench.profile --framework Starlette --scenario page --n 20000`` runs
``n`` requests through the posthog-web variant, flushes, and prints the functions
with the most own CPU time in each thread (cProfile with ``time.thread_time``: on a
shared machine wall time mostly measures the neighbours), or the request thread's
call tree (``--tool pyinstrument``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from typing import Any

from bench import scenarios
from bench.inbox_process import InboxProcess
from posthog_web import Client
from posthog_web.delivery.sender import Sender

_sender_profiles: list[cProfile.Profile] = []


def _profiled_run(original: Any) -> Any:
    def run(self: Sender) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        try:
            original(self)
        finally:
            profiler.disable()
            _sender_profiles.append(profiler)

    return run


def _stats(profiler: cProfile.Profile, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--framework", choices=("Starlette", "Django"), default="Starlette")
    parser.add_argument("--scenario", choices=tuple(scenarios.SCENARIOS), default="page")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--tool", choices=("cprofile", "pyinstrument"), default="cprofile")
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args(argv)
    Sender._run = _profiled_run(Sender._run)  # type: ignore[method-assign]
    with InboxProcess() as inbox:
        client = Client(scenarios.API_KEY, host=inbox.url)
        settings_cm = None
        if args.framework == "Starlette":
            from bench.asgi_app import StarletteHarness

            harness: Any = StarletteHarness(client, None, {"posthog_web"})
        else:
            from bench import django_app

            settings_cm = django_app.django_settings(client, None)
            settings_cm.__enter__()
            harness = django_app.DjangoHarness(None, {"posthog_web"})
        template = harness.prepare(scenarios.build(args.scenario))
        harness.run("posthog_web", template, 200)  # warm up
        client.flush(60)
        if args.tool == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001)
            profiler.start()
            harness.run("posthog_web", template, args.n)
            profiler.stop()
            request_report = profiler.output_text(unicode=True, color=False, show_all=False)
        else:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            harness.run("posthog_web", template, args.n)
            profile.disable()
            request_report = _stats(profile, args.limit)
        client.flush(60)
        client.shutdown(30)
        harness.close()
        if settings_cm is not None:
            settings_cm.__exit__(None, None, None)
    print(f"== request thread: {args.framework} {args.scenario}, {args.n} requests\n")
    print(request_report)
    for profiler in _sender_profiles:
        print("== sender thread\n")
        print(_stats(profiler, args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
