"""Flag values forced for every client of the process: the seam of the pytest
``posthog_flags`` fixture (posthog_web/testing.py).

While forced values are installed, every :class:`~posthog_web.flags.evaluator.FlagEvaluator`
answers from them alone: a flag that was not forced is unknown (``None``), and no
definitions are fetched and no ``/flags`` call is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from posthog_web.flags.results import FlagResult

FORCED_REASON = "Forced by posthog_flags"

#: The forced results by flag key, or None when nothing is forced (the normal case).
current: Mapping[str, FlagResult] | None = None


def forced_result(key: str, value: bool | str, payload: Any = None) -> FlagResult:
    """The result a forced flag gives; ``payload`` is any JSON value (None: none)."""
    text = None if payload is None else json.dumps(payload, separators=(",", ":"))
    return FlagResult(key, value, text, locally_evaluated=True, reason=FORCED_REASON)


def install(results: Mapping[str, FlagResult] | None) -> None:
    """Force these results for every client (None: evaluate normally again)."""
    global current
    current = None if results is None else dict(results)


def missing(key: str) -> FlagResult:
    """What a flag that was not forced gives while others are."""
    return FlagResult(key, None, error="flag_missing")
