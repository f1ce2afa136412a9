"""bench/request_flags_django.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

from typing import Any

import pytest

from bench import request_flags_django
from posthog_web.web.flags import FlagReader

pytestmark = pytest.mark.slow


def test_every_variant_runs_and_reads_its_flag(
    capsys: pytest.CaptureFixture[str], django_db_blocker: Any
) -> None:
    # The bench touches no table, but Django's request_started closes old connections,
    # which pytest-django blocks once an earlier test has opened one.
    with django_db_blocker.unblock():
        assert request_flags_django.main(["--rounds", "1", "--n", "5"]) == 0
    out = capsys.readouterr().out
    count = len(request_flags_django.VARIANTS)
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines()[-count:]}
    assert list(lines) == list(request_flags_django.VARIANTS)
    for name in ("one rollout flag", "one flag", "distinct id only", "same work, one function"):
        assert "(" in lines[name]  # what it adds to the no-flag page, with quartiles
    # The 3-condition flag's value for the bench's person (a variant, not None).
    assert request_flags_django.VALUES[request_flags_django.FLAG] in {"control", "test", "other"}
    # The measuring stick reads what the package reads.
    values = request_flags_django.VALUES
    assert values[request_flags_django.INLINE] == values[request_flags_django.FLAG]


def test_the_measuring_stick_does_the_reads_work_itself(django_db_blocker: Any) -> None:
    # Past the first requests, the inline read answers without the package's read.
    reads: list[str] = []
    real_get = FlagReader.get

    def counting_get(self: FlagReader, ctx: Any, key: str, send_event: bool = True) -> Any:
        reads.append(key)
        return real_get(self, ctx, key, send_event)

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(FlagReader, "get", counting_get)
        samples = request_flags_django.measure(["no flag", "same work, one function"], 1, 20)
    assert len(samples.request["same work, one function"]) == 1
    # 40 reads (a warm-up round and a timed one); the package's read only until the
    # visitor is kept (its second evaluation) and reported.
    assert 1 <= len(reads) <= 3
