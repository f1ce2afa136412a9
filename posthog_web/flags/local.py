"""Local evaluation, identical to PostHog's: conditions, rollouts, variants, holdouts,
cohorts, flag dependencies, group flags, and the cases only the server can decide.

:func:`evaluate` returns the flag's value (``True``/``False``/variant key) or raises
:class:`~posthog_web.flags.reasons.Undecided`. Callers pass person properties with
``distinct_id`` already filled in and, for each group passed, that group's properties
with ``$group_key``, as the public API does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.hashing import hash_text as _hash
from posthog_web.flags.hashing import holdout_bucket
from posthog_web.flags.model import (
    BrokenGroup,
    CohortFilter,
    DependencyFilter,
    Filter,
    Flag,
    PropertyFilter,
    PropertyGroup,
    log_once,
)
from posthog_web.flags.reasons import (
    EXPERIENCE_CONTINUITY,
    MISSING_CONTEXT,
    UNRESOLVED_DEPENDENCY,
    UNSUPPORTED_DEFINITION,
    Undecided,
    pick,
)

Value = bool | str
Props = Mapping[str, Any]
_EMPTY: Mapping[str, Any] = {}
_EMPTY_GROUPS: dict[str, dict[str, Any]] = {}


def evaluate(
    defs: Definitions,
    flag: Flag,
    distinct_id: object,
    person_properties: Props,
    groups: Mapping[str, Any] = _EMPTY,
    group_properties: Mapping[str, Props] = _EMPTY,
    device_id: str | None = None,
) -> Value:
    """The flag's value for this person (and groups), or raise Undecided."""
    if not flag.active:
        return False
    if flag.plain:
        return _plain(flag, distinct_id, person_properties)
    if flag.malformed is not None:
        raise Undecided(UNSUPPORTED_DEFINITION, server=True)
    if flag.continuity:
        raise Undecided(EXPERIENCE_CONTINUITY)
    run = _Run(defs, device_id)
    if flag.group_index is not None:
        name = defs.group_types.get(str(flag.group_index))
        if not name:
            raise Undecided(UNSUPPORTED_DEFINITION)
        if name not in groups:
            return False  # the server answers the same without the group
        if name not in group_properties:
            raise Undecided(MISSING_CONTEXT)
        key = groups[name]
        return run.flag(flag, key, group_properties[name], key, groups, group_properties)
    bucketing: object = distinct_id
    if flag.device_bucketing:
        if not device_id:
            # No condition was checked: a cause in the definition outranks this one.
            unsupported = flag.key in defs.unsupported
            raise Undecided(UNSUPPORTED_DEFINITION if unsupported else MISSING_CONTEXT)
        bucketing = device_id
    return run.flag(flag, distinct_id, person_properties, bucketing, groups, group_properties)


def payload_key(value: Value) -> str:
    """The ``filters.payloads`` key of a value: ``"true"``/``"false"`` or the variant."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _Run:
    """One top-level evaluation: its dependency cache and device id."""

    __slots__ = ("active", "cache", "defs", "device_id")

    def __init__(self, defs: Definitions, device_id: str | None) -> None:
        self.defs = defs
        self.device_id = device_id
        self.cache: dict[str, Value | None] = {}
        self.active: set[str] = set()  # dependencies being evaluated: a cycle guard

    def flag(
        self,
        flag: Flag,
        distinct_id: object,
        props: Props,
        bucketing: object,
        groups: Mapping[str, Any],
        group_properties: Mapping[str, Props],
    ) -> Value:
        if flag.malformed is not None:
            raise Undecided(UNSUPPORTED_DEFINITION, server=True)
        if flag.enrollment:
            if flag.group_index is not None:
                raise Undecided(UNSUPPORTED_DEFINITION)
            enrollment_key = f"$feature_enrollment/{flag.key}"
            if enrollment_key not in props:
                raise Undecided(MISSING_CONTEXT)
            enrolled = props[enrollment_key]
            return enrolled is True or enrolled == "true"
        if flag.holdout is not None:
            percentage, held_out = flag.holdout
            if percentage == 100.0 or holdout_bucket(bucketing) <= percentage / 100:
                return held_out
        reason: str | None = None
        rollout_hash = -1.0
        group_types = self.defs.group_types
        for condition in flag.conditions:
            c_props, c_bucketing = props, bucketing
            index = condition.group_index
            try:
                if index is not None:
                    # Mixed targeting: this condition aggregates by its own group type.
                    name = group_types.get(str(index))
                    if not name or name not in groups:
                        continue
                    if name not in group_properties:
                        raise Undecided(MISSING_CONTEXT)
                    c_props, c_bucketing = group_properties[name], groups[name]
                if condition.filters and not self.all_match(
                    condition.filters, distinct_id, c_props
                ):
                    continue
            except Undecided as undecided:
                if undecided.server:
                    # The loop stops here; a filter it did not reach may carry a cause
                    # of higher precedence in the definition, as PostHog's SDKs report.
                    if flag.key in self.defs.unsupported:
                        undecided.reason = pick(undecided.reason, UNSUPPORTED_DEFINITION)
                    raise
                reason = pick(reason, undecided.reason)
                continue
            threshold = condition.threshold
            if threshold is not None:
                if c_bucketing is not bucketing:  # a condition on its own group type
                    condition_hash = _hash(f"{flag.key}.{c_bucketing}")
                else:
                    if rollout_hash < 0.0:  # the same for the flag's own conditions
                        rollout_hash = _hash(f"{flag.key}.{bucketing}")
                    condition_hash = rollout_hash
                if condition_hash > threshold:
                    if flag.early_exit:
                        break
                    continue
            if condition.variant is not None:
                return condition.variant
            return variant_of(flag, c_bucketing) or True
        if reason is not None:
            raise Undecided(reason)
        return False

    def all_match(self, filters: tuple[Filter, ...], distinct_id: object, props: Props) -> bool:
        # Filters have no order: an undecided one does not stop the loop, since a later
        # one can still rule the condition out. A "needs the server" counts only when it
        # is the first undecided filter.
        reason: str | None = None
        server: Undecided | None = None
        for item in filters:
            try:
                if type(item) is PropertyFilter:
                    matched = item.matcher(props)
                else:
                    matched = self.filter(item, distinct_id, props)
            except Undecided as undecided:
                if undecided.server and reason is None:
                    server = undecided
                reason = pick(reason, undecided.reason)
                continue
            if not matched:
                return False
        if server is not None:
            raise server
        if reason is not None:
            raise Undecided(reason)
        return True

    def filter(self, item: Filter | PropertyGroup | BrokenGroup, did: object, props: Props) -> bool:
        if type(item) is PropertyFilter:
            return item.matcher(props)
        if type(item) is CohortFilter:
            return self.cohort(item, did, props)
        if type(item) is DependencyFilter:
            return self.dependency(item, did, props)
        if type(item) is PropertyGroup:
            return self.group(item, did, props)
        raise Undecided(UNSUPPORTED_DEFINITION, server=True)

    def cohort(self, item: CohortFilter, did: object, props: Props) -> bool:
        group = self.defs.cohorts.get(item.cohort_id)
        if group is None:  # a static cohort: not sent with the definitions
            raise Undecided(UNSUPPORTED_DEFINITION, server=True)
        if item.operator not in ("exact", "in", "not_in"):
            raise Undecided(UNSUPPORTED_DEFINITION)
        matched = self.filter(group, did, props)
        return not matched if item.operator == "not_in" else matched

    def group(self, group: PropertyGroup, did: object, props: Props) -> bool:
        if not group.entries:
            return True
        decided: bool | None = None
        reason: str | None = None
        # Every entry is visited: a later one may need the server whatever decided.
        for entry, negated in group.entries:
            try:
                matched = self.filter(entry, did, props) != negated
            except Undecided as undecided:
                if undecided.server:
                    raise
                reason = pick(reason, undecided.reason)
                continue
            if matched != group.is_and:
                decided = matched
        if decided is not None:
            return decided
        if reason is not None:
            raise Undecided(reason)
        return group.is_and

    def dependency(self, item: DependencyFilter, did: object, props: Props) -> bool:
        if item.problem is not None:
            log_once(item.key, f"flag dependency: {item.problem}")
            return False
        if item.chain is None:
            raise Undecided(UNSUPPORTED_DEFINITION)
        by_key, cache = self.defs.by_key, self.cache
        for member in item.chain:
            if member not in cache and member not in by_key:
                cache[member] = None
                raise Undecided(UNSUPPORTED_DEFINITION)
        for member in item.chain:
            if member not in cache:
                self.evaluate_dependency(by_key[member], did, props)
        actual = cache.get(item.key)
        if actual is None:
            known = item.key in by_key and item.key in cache
            raise Undecided(UNRESOLVED_DEPENDENCY if known else UNSUPPORTED_DEFINITION)
        return matches_dependency(item.expected, actual)

    def evaluate_dependency(self, flag: Flag, did: object, props: Props) -> None:
        if flag.key in self.active:
            # A cycle the server's chain did not reveal: only the server can decide.
            raise Undecided(UNSUPPORTED_DEFINITION)
        if not flag.active:
            self.cache[flag.key] = False
            return
        if flag.continuity:
            self.cache[flag.key] = None
            raise Undecided(UNRESOLVED_DEPENDENCY)
        try:
            bucketing: object = did
            if flag.group_index is None and flag.device_bucketing:
                if not self.device_id:
                    raise Undecided(MISSING_CONTEXT)
                bucketing = self.device_id
            # A dependency is evaluated with the same properties and no groups.
            self.active.add(flag.key)
            try:
                self.cache[flag.key] = self.flag(flag, did, props, bucketing, _EMPTY, _EMPTY)
            finally:
                self.active.discard(flag.key)
        except Undecided as undecided:
            if not undecided.server:
                self.cache[flag.key] = None
            raise Undecided(UNRESOLVED_DEPENDENCY, server=undecided.server) from None


def _plain(flag: Flag, bucketing: object, props: Props) -> Value:
    # The fast path of _Run.flag for a person flag whose conditions hold only property
    # filters (most flags): the same rules, without the dependency machinery.
    reason: str | None = None
    rollout_hash = -1.0
    for condition in flag.conditions:
        filters = condition.filters
        if filters:
            condition_reason: str | None = None
            matched = True
            for item in filters:
                try:
                    if not item.matcher(props):  # type: ignore[union-attr]
                        matched = False
                        break
                except Undecided as undecided:
                    condition_reason = pick(condition_reason, undecided.reason)
            if not matched:
                continue
            if condition_reason is not None:
                reason = pick(reason, condition_reason)
                continue
        threshold = condition.threshold
        if threshold is not None:
            if rollout_hash < 0.0:  # the same for every condition: hashed once
                rollout_hash = _hash(f"{flag.key}.{bucketing}")
            if rollout_hash > threshold:
                if flag.early_exit:
                    break
                continue
        if condition.variant is not None:
            return condition.variant
        return variant_of(flag, bucketing) or True
    if reason is not None:
        raise Undecided(reason)
    return False


def variant_of(flag: Flag, bucketing: object) -> str | None:
    """The variant the variant hash selects, or None (no variants, or an uncovered gap)."""
    if not flag.variants:
        return None
    point = _hash(f"{flag.key}.{bucketing}variant")
    for key, low, high in flag.variants:
        if low <= point < high:
            return key
    return None


def matches_dependency(expected: Any, actual: Value) -> bool:
    """A dependency's expected value against the other flag's value."""
    if isinstance(actual, str) and actual:
        if isinstance(expected, bool):
            return expected
        return isinstance(expected, str) and actual == expected
    if isinstance(actual, bool) and isinstance(expected, bool):
        return actual == expected
    return False


def prepared(
    distinct_id: str,
    person_properties: Mapping[str, Any],
    groups: Mapping[str, Any],
    group_properties: Mapping[str, Mapping[str, Any]],
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Person properties with ``distinct_id`` and, per group, its properties with
    ``$group_key``: what :func:`evaluate` expects."""
    # As PostHog's SDKs do: a filter on distinct_id works locally, and each group's
    # properties carry its key.
    person = dict(person_properties)
    person.setdefault("distinct_id", distinct_id)
    if not groups:
        return person, _EMPTY_GROUPS
    group_props = {
        name: {"$group_key": key, **group_properties.get(name, _EMPTY)}
        for name, key in groups.items()
    }
    return person, group_props
