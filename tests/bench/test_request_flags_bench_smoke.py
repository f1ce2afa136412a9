"""bench/request_flags_bench.py runs: tiny counts, no timing asserted."""

from __future__ import annotations

import shutil
from pathlib import Path

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


def test_base_compares_the_named_variants(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "base"
    shutil.copytree(
        Path(request_flags_bench.__file__).parents[1] / "posthog_web", base / "posthog_web"
    )
    argv = ["--rounds", "1", "--n", "3", "--base", str(base), "--base-variants", "one flag"]
    assert request_flags_bench.main(argv) == 0
    out = capsys.readouterr().out
    assert f"{base} (base) and this tree" in out
    compared = out.split("(base) and this tree", 1)[1].splitlines()
    assert [line.split()[:2] for line in compared[1:3]] == [["no", "flag"], ["one", "flag"]]
    assert "->" in compared[2]


def test_fastapi_reads_the_flag_through_the_dependency(capsys: pytest.CaptureFixture[str]) -> None:
    assert request_flags_bench.main(["--rounds", "1", "--n", "5", "--fastapi"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [read] = [line for line in lines if line.strip().startswith("FastAPI: one flag")]
    assert "(" in read  # what it adds to the FastAPI no-flag page, with quartiles
    # The request's own helper answered (the dependency's no-op helper gives None).
    assert request_flags_bench.FASTAPI_VALUES[request_flags_bench.FLAG] in {
        "control",
        "test",
        "other",
    }
