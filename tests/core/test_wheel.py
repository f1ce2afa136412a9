"""The README's install from a built wheel works in a clean virtual environment.

The package is not on PyPI yet (issue 13, item 8), so the README says to build a wheel
with ``python -m pip wheel . --no-deps -w dist`` and install it. This builds it the same
way, installs it with ``--no-deps --no-index`` into a new venv, and makes the already
installed dependencies (requests, Django) importable through a ``.pth`` file, so the test
needs no network beyond the build backend pip already has cached or can fetch.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    # Never from the checkout: `python -c` would import the package from the cwd.
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_built_wheel_installs_and_runs_in_a_clean_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", ROOT, "--no-deps", "-w", dist, "-q", cwd=tmp_path)
    [wheel] = dist.glob("posthog_web-*-py3-none-any.whl")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp_path)
    purelib = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).stdout.strip()
    )
    # The dependencies only: appended after the venv's own site-packages, and this
    # checkout's editable install is a .pth finder that a plain path entry does not run.
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    code = (
        "import posthog_web, posthog_web.asgi, posthog_web.inbox, posthog_web.django.checks\n"
        "import posthog_web.django.templatetags.posthog_web\n"
        "from pathlib import Path\n"
        f"assert Path(posthog_web.__file__).is_relative_to({str(purelib)!r})\n"
        "assert (Path(posthog_web.__file__).parent / 'py.typed').exists()\n"
        "print(posthog_web.__version__)\n"
    )
    assert _run(python, "-c", code, cwd=tmp_path).stdout.strip()
    usage = _run(venv / "bin" / "posthog-web", "--help", cwd=tmp_path).stdout
    assert "inbox" in usage
    assert "inbox" in _run(venv / "bin" / "posthog-web", "inbox", "--help", cwd=tmp_path).stdout
