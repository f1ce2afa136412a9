"""Recent local evaluations of pure flags, reused while nothing they depend on changed.

A visitor's next request reads the same flags with the same person properties: for a
*pure* flag (:attr:`~posthog_web.flags.model.Flag.pure`: its value depends on the
distinct id and the person properties alone) the value of the last evaluation is the
answer, found with one dict lookup and two comparisons instead of the matchers and
hashes. Each :class:`~posthog_web.flags.definitions.Definitions` holds its own (a poll
that brings a new version brings an empty one); an entry holds while the person
properties are the same keys, in the same order, with values of the same types that
compare equal (so ``1`` and ``True`` are told apart).

Entries are tuples of atoms (the person properties as ``(key, value)`` pairs, their
builtin types, the value), which the cyclic collector stops tracking: a full table adds
nothing to its passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RecentEvaluations"]

# Values whose equality means identity of what the matchers read: a str subclass, a
# list (mutable in place) or a float zero (0.0 == -0.0, printed apart) is not kept.
_KEPT_TYPES = frozenset((str, int, bool, float, type(None)))

_Entry = tuple[tuple[tuple[str, Any], ...] | None, tuple[type, ...], bool | str]


class RecentEvaluations:
    """The last value of each (flag, distinct id) evaluated twice or more, bounded by
    starting over when full."""

    __slots__ = ("_capacity", "_entries")

    def __init__(self, capacity: int = 8192) -> None:
        self._capacity = capacity
        # None: seen once. Most visitors of a busy site read a flag on one page only, so
        # the person properties are copied on the second evaluation, not the first.
        self._entries: dict[tuple[str, str], _Entry | None] = {}

    def get(self, key: str, distinct_id: str, person: Mapping[str, Any]) -> bool | str | None:
        """The kept value, if it was evaluated with these person properties, else None."""
        entry = self._entries.get((key, distinct_id))
        if entry is None:
            return None
        kept_items, kept_types, value = entry
        if kept_items is None:  # a flag that reads no property
            return value
        if kept_items == tuple(person.items()) and kept_types == tuple(map(type, person.values())):
            return value
        return None

    def put(
        self, key: str, distinct_id: str, person: Mapping[str, Any] | None, value: bool | str
    ) -> None:
        """Keep ``value`` (a local evaluation of a pure flag) for the next read;
        ``person`` None: the flag reads no property, so any person properties match."""
        entries = self._entries
        visitor = (key, distinct_id)
        if visitor not in entries:
            if len(entries) >= self._capacity:
                entries.clear()  # a race only evaluates a flag twice
            entries[visitor] = None
            return
        if person is None:
            entries[visitor] = (None, (), value)
            return
        types = tuple(map(type, person.values()))
        if not _KEPT_TYPES.issuperset(types) or (float in types and 0.0 in person.values()):
            return
        entries[visitor] = (tuple(person.items()), types, value)

    def __len__(self) -> int:
        return len(self._entries)
