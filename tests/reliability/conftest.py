"""Fixtures for the reliability tests: a restartable inbox process in the test's directory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import InboxProcess


@pytest.fixture
def inbox_process(tmp_path: Path) -> Iterator[InboxProcess]:
    """``python -m posthog_web.inbox`` with a database file, started; stopped afterwards."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the reliability tests read /proc")
    inbox = InboxProcess(tmp_path).start()
    try:
        yield inbox
    finally:
        inbox.stop()
