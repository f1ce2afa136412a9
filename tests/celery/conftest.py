"""The Celery tests import Starlette's TestClient, which warns once at import (httpx2)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import starlette.testclient  # noqa: F401
