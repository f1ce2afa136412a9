"""Recent local evaluations of pure flags, reused while nothing they depend on changed.

A visitor's next request reads the same flags with the same person properties: for a
*pure* flag (:attr:`~posthog_web.flags.model.Flag.pure`: its value depends on the
distinct id and the person properties its filters read, nothing else) the result of the
last evaluation is the answer, found with one dict lookup and a comparison of those few
properties instead of the matchers and hashes. The other person properties do not
matter, whatever they hold (a ``datetime``, a list). Each
:class:`~posthog_web.flags.definitions.Definitions` holds its own (a poll that brings a
new version brings an empty one).

A read property matches when its value has the same builtin type and compares equal
(so ``1`` and ``True``, or ``0.0`` and ``-0.0``, are told apart); a missing one, or one
of another type (a ``str`` subclass, a list), always means a fresh evaluation. A
visitor seen once costs one untracked key; an entry holds atoms and what the flag's
entries share (its property reader, its result), so a full table adds 8,192 small
tuples to the cyclic collector's full passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Any, Generic, TypeVar

from posthog_web.flags.model import Flag

# The kept result: a FlagResult (results.py imports the definitions, which hold this).
R = TypeVar("R")

__all__ = ["RecentEvaluations"]

# Values whose equality means identity of what the matchers read. A float zero is not
# kept either: 0.0 == -0.0, yet they print apart (a regex or a text match tells).
_KEPT_TYPES = frozenset((str, int, bool, float, type(None)))

_Getter = Callable[[Mapping[str, Any]], Any]
# Whether the values read now are the kept ones: each of the same type, and equal.
_Same = Callable[[Any, Any, Any], bool]
# (reads the flag's properties, compares them, the values read, their types, the
# result). One property is kept as itself and its type, several as tuples (as itemgetter
# gives them); a flag that reads none as (None, None, None, None, result).
_Entry = tuple[_Getter | None, _Same | None, Any, Any, R]


def _same_1(now: Any, kept: Any, kept_type: type) -> bool:
    return type(now) is kept_type and now == kept


# Unrolled for the usual two to four properties: in a request this code runs cold, and
# Python runs type(x) as one instruction where tuple(map(type, ...)) makes three C calls.
def _same_2(now: Any, kept: Any, kept_types: Any) -> bool:
    a, b = now
    x, y = kept_types
    return type(a) is x and type(b) is y and now == kept


def _same_3(now: Any, kept: Any, kept_types: Any) -> bool:
    a, b, c = now
    x, y, z = kept_types
    return type(a) is x and type(b) is y and type(c) is z and now == kept


def _same_4(now: Any, kept: Any, kept_types: Any) -> bool:
    a, b, c, d = now
    w, x, y, z = kept_types
    return type(a) is w and type(b) is x and type(c) is y and type(d) is z and now == kept


def _same_n(now: Any, kept: Any, kept_types: Any) -> bool:
    return bool(tuple(map(type, now)) == kept_types and now == kept)


_SAME: dict[int, _Same] = {1: _same_1, 2: _same_2, 3: _same_3, 4: _same_4}


class RecentEvaluations(Generic[R]):
    """The last value of each (pure flag, distinct id) evaluated twice or more, bounded
    by starting over when full."""

    __slots__ = ("_capacity", "_entries", "_kept", "_readers")

    def __init__(self, flags: Iterable[Flag] = (), capacity: int = 8192) -> None:
        self._capacity = capacity
        # Per pure flag: how to read and compare its properties (None: it reads none).
        self._readers: dict[str, tuple[_Getter, _Same] | None] = {
            flag.key: (
                (itemgetter(*keys), _SAME.get(len(keys), _same_n))
                if (keys := flag.person_keys)
                else None
            )
            for flag in flags
            if flag.pure
        }
        # Per pure flag, per distinct id (None: seen once). Most visitors of a busy site
        # read a flag on one page only, so the read properties are copied on the second
        # evaluation, not the first. One dict per flag: a read builds no key tuple.
        self._entries: dict[str, dict[str, _Entry[R] | None]] = {key: {} for key in self._readers}
        # Visitors kept, over all flags (the bound).
        self._kept = 0

    def get(self, key: str, distinct_id: str, person: Mapping[str, Any]) -> R | None:
        """The kept result, if the properties the flag reads are the same, else None."""
        visitors = self._entries.get(key)
        if visitors is None:  # not a pure flag
            return None
        entry = visitors.get(distinct_id)
        if entry is None:
            return None
        read, same, kept, kept_types, result = entry
        if read is None:  # a flag that reads no property
            return result
        try:
            now = read(person)
        except (LookupError, TypeError):  # missing, or not a mapping
            return None
        if same(now, kept, kept_types):  # type: ignore[misc]
            return result
        return None

    def put(self, key: str, distinct_id: str, person: Mapping[str, Any], value: R) -> None:
        """Keep ``value``, a local evaluation of flag ``key``, for the next read (only
        a pure flag's, and only once the visitor was evaluated before)."""
        visitors = self._entries.get(key)
        if visitors is None:
            return
        if distinct_id not in visitors:
            if self._kept >= self._capacity:
                # Start over (a race only evaluates a flag twice).
                for each in self._entries.values():
                    each.clear()
                self._kept = 0
            visitors[distinct_id] = None
            self._kept += 1
            return
        reader = self._readers[key]
        if reader is None:
            visitors[distinct_id] = (None, None, None, None, value)
            return
        read, same = reader
        try:
            now = read(person)
        except (LookupError, TypeError):
            return  # a missing property: is_not_set and friends decide on absence
        values = (now,) if same is _same_1 else now
        types = tuple(map(type, values))
        if not _KEPT_TYPES.issuperset(types) or (float in types and 0.0 in values):
            return
        visitors[distinct_id] = (read, same, now, types[0] if same is _same_1 else types, value)

    def __len__(self) -> int:
        return sum(map(len, self._entries.values()))
