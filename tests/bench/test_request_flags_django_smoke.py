"""bench/request_flags_django.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

from typing import Any

import pytest

from bench import request_flags_django

pytestmark = pytest.mark.slow


def test_every_variant_runs_and_reads_its_flag(
    capsys: pytest.CaptureFixture[str], django_db_blocker: Any
) -> None:
    # The bench touches no table, but Django's request_started closes old connections,
    # which pytest-django blocks once an earlier test has opened one.
    with django_db_blocker.unblock():
        assert request_flags_django.main(["--rounds", "1", "--n", "5"]) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[1].strip(): line for line in out.splitlines()[-4:]}
    assert list(lines) == list(request_flags_django.VARIANTS)
    for name in ("one rollout flag", "one flag", "distinct id only"):
        assert "(" in lines[name]  # what it adds to the no-flag page, with quartiles
    # The 3-condition flag's value for the bench's person (a variant, not None).
    assert request_flags_django.VALUES[request_flags_django.FLAG] in {"control", "test", "other"}
