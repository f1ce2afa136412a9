"""What one request knows about its feature flags: :class:`RequestFlags`.

The tracker's context holds one (made on the first flag read); the flag reader
(:mod:`posthog_web.web.flags`) fills it and the emitter reads :meth:`event_properties`
for every event the request sends after a flag was read.
"""

from __future__ import annotations

from typing import Any

from posthog_web.flags.results import FlagResult

__all__ = ["PROP_ACTIVE_FEATURE_FLAGS", "RequestFlags", "check_flag_key", "feature_property"]

PROP_ACTIVE_FEATURE_FLAGS = "$active_feature_flags"
_FEATURE_PREFIX = "$feature/"


def feature_property(key: str) -> str:
    """The event property holding a flag's value: ``$feature/<key>``."""
    return _FEATURE_PREFIX + key


def check_flag_key(key: object) -> str:
    """``key`` if it is a non-empty str, else a ``TypeError``/``ValueError`` naming it."""
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, not {type(key).__name__}")
    if not key:
        raise ValueError("key must not be empty")
    return key


class RequestFlags:
    """One request's flag results, each evaluated at most once, and the flags it read.

    ``distinct_id`` is who the results are for: a ``login()`` or ``logout()`` later in
    the request changes the visitor, and the results are then forgotten.
    """

    __slots__ = ("_properties", "all_evaluated", "distinct_id", "read", "results")

    def __init__(self, distinct_id: str) -> None:
        self.distinct_id = distinct_id
        self.results: dict[str, FlagResult] = {}
        # The flags the app read, in order (a dict as an ordered set).
        self.read: dict[str, None] = {}
        # evaluate_all ran locally (True) or also remotely ("remote") for this visitor.
        self.all_evaluated: bool | str = False
        self._properties: dict[str, Any] | None = None

    def forget(self, distinct_id: str) -> None:
        """Start over for another visitor (the request's identity changed)."""
        self.distinct_id = distinct_id
        self.results = {}
        self.read = {}
        self.all_evaluated = False
        self._properties = None

    def mark_read(self, key: str) -> None:
        """Remember that the app read ``key`` (its value goes on later events)."""
        if key not in self.read:
            self.read[key] = None
            self._properties = None

    def event_properties(self) -> dict[str, Any]:
        """``$feature/<key>`` for each flag read with a value, and ``$active_feature_flags``
        (the enabled ones, sorted), as PostHog's experiments read them."""
        props = self._properties
        if props is None:
            props = {}
            active: list[str] = []
            results = self.results
            for key in self.read:
                result = results.get(key)
                if result is None or result.value is None:
                    continue
                props[_FEATURE_PREFIX + key] = result.value
                if result.value:
                    active.append(key)
            # A tuple: the events of the request share it, and nothing can change it.
            props[PROP_ACTIVE_FEATURE_FLAGS] = tuple(sorted(active))
            self._properties = props
        return props
