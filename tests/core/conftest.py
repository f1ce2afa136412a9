from __future__ import annotations

import pytest

from tests.core.helpers import free_port


@pytest.fixture
def unused_port() -> int:
    return free_port()
