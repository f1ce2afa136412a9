"""bench/request_cost_cachegrind.py: the counted requests run, the summary parses."""

from __future__ import annotations

from typing import Any

import pytest

from bench import request_cost_cachegrind, request_flags_django
from bench.request_cost_cachegrind import Counts, parse_summary
from bench.request_flags_bench import FLAG

# A real cachegrind summary (valgrind 3.19, ``--cache-sim=yes``), as it ends stderr.
SUMMARY = """\
==6865== Command: /work/main/.venv/bin/python -c pass
==6865==
==6865== I   refs:      40,235,867
==6865== I1  misses:       332,686
==6865== LLi misses:        11,689
==6865== I1  miss rate:       0.83%
==6865== LLi miss rate:       0.03%
==6865==
==6865== D   refs:      16,805,906  (11,211,353 rd   + 5,594,553 wr)
==6865== D1  misses:       634,339  (   566,855 rd   +    67,484 wr)
==6865== LLd misses:        58,731  (    21,956 rd   +    36,775 wr)
==6865== D1  miss rate:        3.8% (       5.1%     +       1.2%  )
==6865==
==6865== LL refs:          967,025  (   899,541 rd   +    67,484 wr)
==6865== LL misses:         70,420  (    33,645 rd   +    36,775 wr)
"""


def test_the_summary_gives_the_totals() -> None:
    assert parse_summary(SUMMARY) == Counts(40_235_867, 332_686, 634_339, 70_420)


def test_a_summary_without_the_cache_simulation_is_refused() -> None:
    without_cache = "\n".join(line for line in SUMMARY.splitlines() if "misses" not in line)
    with pytest.raises(ValueError, match="without d1, i1, ll"):
        parse_summary(without_cache)


def test_one_requests_share_and_its_estimated_cycles() -> None:
    short, long = Counts(1_000, 100, 50, 2), Counts(6_000, 150, 100, 2)
    one = (long - short).per(500)
    assert one == Counts(10, 0.1, 0.1, 0)
    assert one.cycles == pytest.approx(10 + 10 * 0.2)
    assert Counts(0, 0, 0, 1).cycles == 100


@pytest.mark.slow
def test_the_counted_requests_read_the_flag(django_db_blocker: Any) -> None:
    request_flags_django.VALUES.clear()
    done: list[int] = []
    with django_db_blocker.unblock():  # see test_request_flags_django_smoke.py
        request_cost_cachegrind.serve("one flag", 3, warm_up=1, then=lambda: done.append(1))
    assert done == [1]  # where the counted subprocess exits
    value = request_flags_django.VALUES[FLAG]
    assert isinstance(value, str)
    assert value in {"control", "test", "other"}


def test_an_unknown_variant_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        request_cost_cachegrind.main(["two flags"])
    assert exit_.value.code == 2
    assert "unknown variants ['two flags']" in capsys.readouterr().err
