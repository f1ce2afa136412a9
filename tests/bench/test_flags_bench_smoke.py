"""bench/flags_bench.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

import warnings

import pytest

from bench import flags_bench

pytestmark = pytest.mark.slow


def test_evaluation_and_polls_parts_run() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        timings = flags_bench.evaluation(rounds=1, n=40)
    assert set(timings) == {
        "posthog-web get_feature_flag",
        "posthog-python get_feature_flag",
        "posthog-web get_all_flags (50)",
        "posthog-python get_all_flags (50)",
        "posthog-web get_feature_flag, same id",
    }
    polls = flags_bench.polls(workers=2, seconds=0.5, interval=0.25)
    assert set(polls) == {
        "posthog-python",
        "posthog-web",
        "posthog-web + flags_cache_dir",
        "posthog-web + Django FLAGS_CACHE",
    }
    assert all(count > 0 for count in polls.values())  # every worker fetched at least once
