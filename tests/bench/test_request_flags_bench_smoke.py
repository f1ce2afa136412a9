"""bench/request_flags_bench.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

import pytest

from bench import request_flags_bench

pytestmark = pytest.mark.slow


def test_every_variant_runs() -> None:
    names = [*request_flags_bench.VARIANTS, *request_flags_bench.BREAKDOWN_VIEWS]
    samples = request_flags_bench.measure(names, rounds=1, n=5)
    assert set(samples) == set(names)
    assert all(len(values) == 1 and values[0] > 0 for values in samples.values())
