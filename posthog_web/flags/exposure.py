"""``$feature_flag_called``: its properties, and the once-per-process dedupe."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from posthog_web.flags.results import FlagResult

EVENT_FLAG_CALLED = "$feature_flag_called"
MAX_DISTINCT_IDS = 50_000


class CalledLog:
    """Remembers which (flag, value, groups) each distinct id was already reported for.

    Bounded: past ``capacity`` distinct ids the oldest is forgotten (it may be reported
    again). Per process, as in PostHog's SDKs: each worker reports once.
    """

    def __init__(self, capacity: int = MAX_DISTINCT_IDS) -> None:
        self._capacity = capacity
        self._seen: OrderedDict[str, set[tuple[Any, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(
        self, distinct_id: str, key: str, value: bool | str | None, groups: Mapping[str, Any]
    ) -> bool:
        """True (and remembered) the first time this combination is seen."""
        # A value is a bool, a variant key or None: equality tells them apart.
        entry = (key, value, _groups_key(groups)) if groups else (key, value)
        # Most reads were reported already: a set lookup needs no lock under the GIL.
        seen = self._seen.get(distinct_id)
        if seen is not None and entry in seen:
            return False
        with self._lock:
            seen = self._seen.get(distinct_id)
            if seen is None:
                seen = self._seen[distinct_id] = set()
                if len(self._seen) > self._capacity:
                    self._seen.popitem(last=False)
            if entry in seen:
                return False
            seen.add(entry)
            return True


def _groups_key(groups: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(groups.items(), key=str))


def called_properties(result: FlagResult, groups: Mapping[str, Any]) -> dict[str, Any]:
    """The properties of a ``$feature_flag_called`` event for ``result``."""
    props: dict[str, Any] = {
        "$feature_flag": result.key,
        "$feature_flag_response": result.value,
        f"$feature/{result.key}": result.value,
        "locally_evaluated": result.locally_evaluated,
    }
    optional = {
        "$feature_flag_payload": result.payload,
        "$feature_flag_id": result.id or None,
        "$feature_flag_version": result.version or None,
        "$feature_flag_reason": result.reason,
        "$feature_flag_request_id": result.request_id,
        "$feature_flag_evaluated_at": result.evaluated_at,
        "$feature_flag_has_experiment": result.has_experiment,
        "$feature_flag_error": result.error,
    }
    props.update((name, value) for name, value in optional.items() if value is not None)
    if groups:
        props["$groups"] = dict(groups)
    return props
