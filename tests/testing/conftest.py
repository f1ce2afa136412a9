"""Starlette 1.x warns once, at import, that its TestClient prefers httpx2 to httpx."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import starlette.testclient  # noqa: F401


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
