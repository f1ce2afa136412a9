"""bench/request_flags_bench.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

import pytest

from bench import request_flags_bench

pytestmark = pytest.mark.slow


def test_every_variant_runs() -> None:
    names = [*request_flags_bench.VARIANTS, *request_flags_bench.BREAKDOWN_VIEWS]
    samples = request_flags_bench.measure(names, rounds=1, n=5)
    assert set(samples.request) == set(samples.delivery) == set(names)
    for name in names:
        assert len(samples.request[name]) == len(samples.delivery[name]) == 1
        assert samples.request[name][0] > 0
        assert samples.total(name)[0] > samples.request[name][0]  # delivery counted
