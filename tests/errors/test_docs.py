"""The examples in docs/errors.md, run against a real inbox."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from posthog_web.inbox import InboxServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
KEY = 'Client("phc_your_project_key")'


def run(code: str, inbox: InboxServer) -> subprocess.CompletedProcess[str]:
    code = code.replace(KEY, 'Client("phc_your_project_key", host=os.environ["INBOX_URL"])')
    return subprocess.run(
        [sys.executable, "-c", "import os\n" + code],
        env={**os.environ, "INBOX_URL": inbox.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_the_capture_example_sends_one_exception(inbox: InboxServer) -> None:
    assert KEY in BLOCKS[0]
    result = run(BLOCKS[0], inbox)
    assert result.returncode == 0, result.stderr
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["distinct_id"] == "user-42"
    assert event["properties"]["form"] == "checkout"
    assert event["properties"]["$exception_types"] == ["ValueError"]


@pytest.mark.slow
def test_the_uncaught_example_sends_the_crash(inbox: InboxServer) -> None:
    assert KEY in BLOCKS[1]
    result = run(BLOCKS[1] + "\nraise SystemError('crash')\n", inbox)
    assert result.returncode == 1
    assert "SystemError: crash" in result.stderr
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["properties"]["$exception_level"] == "fatal"
