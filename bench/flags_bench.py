"""Feature flags: local evaluation and definitions polls, posthog-web vs posthog-python.

``.venv/bin/python -m bench.flags_bench [--quick]`` (posthog-python 7.91.1 comes with
the dev extra). Interleaved rounds in one process; medians of per-call microseconds.
The polls part runs 4 worker processes against a stand-in server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable
from typing import Any

from posthog import Posthog

from posthog_web import Client

VARIANTS = {"variants": [{"key": "control", "rollout_percentage": 34},
                         {"key": "test", "rollout_percentage": 33},
                         {"key": "other", "rollout_percentage": 33}]}  # fmt: skip


def three_condition_flag(key: str) -> dict[str, Any]:
    """A flag with 3 conditions on person properties, a variant override and variants."""
    return {
        "id": 1, "key": key, "active": True, "version": 1,
        "filters": {
            "groups": [
                {"properties": [{"key": "email", "operator": "icontains", "value": "@corp.com",
                                 "type": "person"}], "rollout_percentage": 100,
                 "variant": "test"},
                {"properties": [{"key": "plan", "operator": "exact", "value": ["pro", "team"],
                                 "type": "person"},
                                {"key": "age", "operator": "gte", "value": 18, "type": "person"}],
                 "rollout_percentage": 50},
                {"properties": [{"key": "app_version", "operator": "semver_gte",
                                 "value": "2.1.0", "type": "person"}],
                 "rollout_percentage": 30},
            ],
            "multivariate": VARIANTS,
            "payloads": {"test": '{"color": "blue"}'},
        },
    }  # fmt: skip


PERSON = {"email": "ann@example.com", "plan": "pro", "age": 30, "app_version": "2.3.1"}


def definitions(n: int) -> dict[str, Any]:
    return {"flags": [three_condition_flag(f"flag-{i}") for i in range(n)],
            "group_type_mapping": {}, "cohorts": {}}  # fmt: skip


def _per_call_us(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def evaluation(rounds: int, n: int) -> dict[str, float]:
    one, fifty = definitions(1), definitions(50)
    web = Client("phc_bench", host="http://127.0.0.1:9", flags_secret_key="phx_bench")
    web_all = Client("phc_bench", host="http://127.0.0.1:9", flags_secret_key="phx_bench")
    web.flags.set_definitions(one)
    web_all.flags.set_definitions(fifty)
    py = Posthog("phc_bench", personal_api_key="phx_bench", send=False, sync_mode=True)
    py.feature_flags = one["flags"]
    py_all = Posthog("phc_bench", personal_api_key="phx_bench", send=False, sync_mode=True)
    py_all.feature_flags = fifty["flags"]
    # Another visitor every call, from more than posthog-web's memo of recent hashes
    # holds: no call is cheaper for having seen its visitor before.
    ids = itertools.cycle([f"user-{i}" for i in range(100_000)])
    cases: dict[str, Callable[[], object]] = {
        "posthog-web get_feature_flag": lambda: web.get_feature_flag(
            "flag-0", distinct_id=next(ids), person_properties=PERSON,
            only_evaluate_locally=True, send_event=False),
        "posthog-python get_feature_flag": lambda: py.get_feature_flag(
            "flag-0", next(ids), person_properties=PERSON,
            only_evaluate_locally=True, send_feature_flag_events=False),
        "posthog-web get_all_flags (50)": lambda: web_all.get_all_flags(
            distinct_id=next(ids), person_properties=PERSON, only_evaluate_locally=True),
        "posthog-python get_all_flags (50)": lambda: py_all.get_all_flags(
            next(ids), person_properties=PERSON, only_evaluate_locally=True),
        # The same visitor again (a visitor's next page): its hashes are remembered.
        "posthog-web get_feature_flag, same id": lambda: web.get_feature_flag(
            "flag-0", distinct_id="user-7", person_properties=PERSON,
            only_evaluate_locally=True, send_event=False),
    }  # fmt: skip
    assert web.get_feature_flag("flag-0", distinct_id="user-7", person_properties=PERSON,
                                send_event=False) == py.get_feature_flag(
        "flag-0", "user-7", person_properties=PERSON, only_evaluate_locally=True,
        send_feature_flag_events=False)  # fmt: skip
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            scale = 1 if "(50)" not in name else 20
            samples[name].append(_per_call_us(fn, max(1, n // scale)))
    for client in (web, web_all):
        client.shutdown(timeout=0.1)
    return {name: statistics.median(values) for name, values in samples.items()}


WORKER = textwrap.dedent(
    """
    import sys, time, warnings
    warnings.simplefilter("ignore")
    kind, url, seconds, interval, cache = sys.argv[1:6]
    if kind == "web":
        from posthog_web import Client
        client = Client("phc_flags_test_token", host=url, flags_secret_key="phx_flags_test_secret",
                        flags_poll_interval=float(interval), flags_cache_dir=cache or None)
        client.get_feature_flag("flag-0", distinct_id="u", send_event=False)
    elif kind == "django":  # POSTHOG_WEB["FLAGS_CACHE"] on a FileBasedCache in `cache`
        import django
        from django.conf import settings
        settings.configure(SECRET_KEY="bench", CACHES={"default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": cache}},
            POSTHOG_WEB={"API_KEY": "phc_flags_test_token", "HOST": url,
                         "FLAGS_SECRET_KEY": "phx_flags_test_secret",
                         "FLAGS_POLL_INTERVAL": float(interval), "FLAGS_CACHE": "default"})
        django.setup()
        from posthog_web.django import conf
        client = conf.get_config().tracker.client
        client.get_feature_flag("flag-0", distinct_id="u", send_event=False)
    else:
        from posthog import Posthog
        client = Posthog("phc_flags_test_token", host=url, personal_api_key="phx_flags_test_secret",
                         poll_interval=float(interval), send=False)
        client.load_feature_flags()
        client.get_feature_flag("flag-0", "u", send_feature_flag_events=False)
    time.sleep(float(seconds))
    """
)


def polls(workers: int, seconds: float, interval: float) -> dict[str, float]:
    sys.path.insert(0, ".")
    from tests.flags.server import FlagsServer

    results: dict[str, float] = {}
    for label, kind, shared in (("posthog-python", "py", False),
                                ("posthog-web", "web", False),
                                ("posthog-web + flags_cache_dir", "web", True),
                                ("posthog-web + Django FLAGS_CACHE", "django", True)):  # fmt: skip
        server = FlagsServer().start()
        server.definitions = definitions(1)
        with tempfile.TemporaryDirectory() as cache:
            args = [kind, server.url, str(seconds), str(interval), cache if shared else ""]
            processes = [subprocess.Popen([sys.executable, "-c", WORKER, *args])
                         for _ in range(workers)]  # fmt: skip
            for process in processes:
                process.wait(timeout=seconds + 30)
        count = len(server.made("definitions"))
        server.stop()
        # Scaled to PostHog's default 30 s interval: polls per machine per minute.
        results[label] = count / (seconds / interval) * 2
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flags_bench", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # posthog-python's deprecation warnings
    rounds, n = (5, 2000) if args.quick else (15, 10_000)
    print(f"Local evaluation, median of {rounds} interleaved rounds (µs per call):")
    timings = evaluation(rounds, n)
    for name, value in timings.items():
        print(f"  {name:<38} {value:8.2f}")
    one = timings["posthog-web get_feature_flag"] / timings["posthog-python get_feature_flag"]
    every = (timings["posthog-web get_all_flags (50)"]
             / timings["posthog-python get_all_flags (50)"])  # fmt: skip
    print(f"  ratio one flag: {one:.2f}; ratio get_all_flags (50): {every:.2f}")
    seconds, interval = (3.0, 0.25) if args.quick else (6.0, 0.25)
    print(f"\nDefinitions polls per machine per minute, 4 workers (measured at a {interval} s "
          "interval, scaled to 30 s):")  # fmt: skip
    for name, value in polls(4, seconds, interval).items():
        print(f"  {name:<38} {value:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
