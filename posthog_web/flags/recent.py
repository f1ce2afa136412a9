"""Recent local evaluations of pure flags, reused while nothing they depend on changed.

A visitor's next request reads the same flags with the same person properties: for a
*pure* flag (:attr:`~posthog_web.flags.model.Flag.pure`: its value depends on the
distinct id and the person properties alone) the result of the last evaluation is the
answer, found with one dict lookup and three comparisons instead of the matchers and
hashes. An entry holds only while the definitions are the same object (a poll that
brings a new version replaces it) and the person properties are the same keys, in the
same order, with values of the same types that compare equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.results import FlagResult

__all__ = ["RecentEvaluations"]

# Values whose equality means identity of what the matchers read: a str subclass, a
# list (mutable in place) or a float zero (0.0 == -0.0, printed apart) is not kept.
_KEPT_TYPES = frozenset((str, int, bool, float, type(None)))

_Entry = tuple[Definitions, dict[str, Any] | None, tuple[str, ...], list[type], FlagResult]


class RecentEvaluations:
    """The last result of each (flag, distinct id), bounded by starting over when full."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        self._entries: dict[tuple[str, str], _Entry] = {}

    def get(
        self, defs: Definitions, key: str, distinct_id: str, person: Mapping[str, Any]
    ) -> FlagResult | None:
        """The kept result, if it was evaluated on ``defs`` with these person properties."""
        entry = self._entries.get((key, distinct_id))
        if entry is None:
            return None
        kept_defs, kept_person, kept_keys, kept_types, result = entry
        if kept_person is None:  # a flag that reads no property
            return result if kept_defs is defs else None
        if (
            kept_defs is defs
            and kept_person == person
            and kept_keys == tuple(person)
            and kept_types == list(map(type, person.values()))
        ):
            return result
        return None

    def put(
        self,
        defs: Definitions,
        key: str,
        distinct_id: str,
        person: Mapping[str, Any] | None,
        result: FlagResult,
    ) -> None:
        """Keep ``result`` (a local evaluation of a pure flag) for the next read;
        ``person`` None: the flag reads no property, so any person properties match."""
        entries = self._entries
        if len(entries) >= self._capacity:
            entries.clear()  # a race only evaluates a flag twice
        if person is None:
            entries[(key, distinct_id)] = (defs, None, (), [], result)
            return
        values = list(person.values())
        types = list(map(type, values))
        if not _KEPT_TYPES.issuperset(types) or (float in types and 0.0 in values):
            return
        entries[(key, distinct_id)] = (defs, dict(person), tuple(person), types, result)

    def __len__(self) -> int:
        return len(self._entries)
