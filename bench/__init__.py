"""posthog-web's benchmark harness: ``bench/run`` (see docs/benchmarks.md).

Every piece is a plain function that the runner (``python -m bench``) calls with the
full iteration counts and ``tests/bench/test_bench_smoke.py`` calls with tiny ones.
"""
