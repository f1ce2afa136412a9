"""What one request knows about its feature flags: :class:`RequestFlags`.

The tracker's context holds one (made on the first flag read); the flag reader
(:mod:`posthog_web.web.flags`) fills it and the emitter reads :meth:`event_properties`
for every event the request sends after a flag was read.
"""

from __future__ import annotations

from collections.abc import Iterable
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
        # The flags the app read, in order, and their results.
        self.read: dict[str, FlagResult] = {}
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

    def mark_read(self, key: str, result: FlagResult) -> None:
        """Remember that the app read ``key`` (``result``, its value, goes on later events)."""
        if key not in self.read:
            self.read[key] = result
            self._properties = None

    def event_properties(self) -> dict[str, Any]:
        """``$feature/<key>`` for each flag read with a value, and ``$active_feature_flags``
        (the enabled ones, sorted), as PostHog's experiments read them. Shared by the
        events of the request (and, for one flag, of every request): read, never change."""
        props = self._properties
        if props is None:
            read = self.read
            if len(read) == 1:  # the usual request: its properties are built once a process
                (result,) = read.values()
                props = _ONE_FLAG.get((result.key, result.value))
                if props is None:
                    props = _one_flag_properties(result.key, result.value)
            else:
                props = _properties(read.values())
            self._properties = props
        return props


# (key, value) -> the event properties of a request that read that one flag.
_ONE_FLAG: dict[tuple[str, bool | str | None], dict[str, Any]] = {}
_ONE_FLAG_CAPACITY = 4096


def _one_flag_properties(key: str, value: bool | str | None) -> dict[str, Any]:
    props = _properties((FlagResult(key, value),))
    if len(_ONE_FLAG) >= _ONE_FLAG_CAPACITY:
        _ONE_FLAG.clear()  # flags x values: only a site with thousands of flags
    _ONE_FLAG[(key, value)] = props
    return props


def _properties(results: Iterable[FlagResult]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    active: list[str] = []
    for result in results:
        if result.value is None:
            continue
        props[_FEATURE_PREFIX + result.key] = result.value
        if result.value:
            active.append(result.key)
    # A tuple: the events share it, and nothing can change it.
    props[PROP_ACTIVE_FEATURE_FLAGS] = tuple(sorted(active))
    return props
