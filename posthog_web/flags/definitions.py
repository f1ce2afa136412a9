"""A loaded set of flag definitions: the flags, cohorts and group types, compiled."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from posthog_web.flags.model import (
    BrokenGroup,
    CohortFilter,
    DependencyFilter,
    Filter,
    Flag,
    Malformed,
    PropertyFilter,
    PropertyGroup,
    compile_flag,
    compile_group,
    log_once,
    server_only,
)
from posthog_web.flags.recent import RecentEvaluations


@dataclass(frozen=True, slots=True)
class Definitions:
    """What ``/flags/definitions`` returned, ready for local evaluation.

    Built with :meth:`from_json`; immutable, so threads share one without locks and a
    poll swaps the whole set at once.
    """

    flags: tuple[Flag, ...] = ()
    by_key: Mapping[str, Flag] = field(default_factory=dict)
    cohorts: Mapping[str, PropertyGroup | BrokenGroup] = field(default_factory=dict)
    group_types: Mapping[str, str] = field(default_factory=dict)
    matching_version: Any = 1
    etag: str | None = None
    unsupported: frozenset[str] = frozenset()  # flags whose definition needs the server
    # A filter on the ``distinct_id`` property somewhere: the person properties then get
    # the distinct id added (a copy per call); most sets have none.
    reads_distinct_id: bool = True
    results: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    # The last result of each pure flag per visitor, valid for this set only.
    recent: RecentEvaluations[Any] = field(
        default_factory=RecentEvaluations, compare=False, repr=False
    )

    @classmethod
    def from_json(cls, data: Any, etag: str | None = None) -> Definitions:
        """Compile a definitions response; raises Malformed when it is not one at all.

        A single malformed flag does not fail the set: it is kept as malformed (it goes
        to the server) and logged once.
        """
        if not isinstance(data, dict) or not isinstance(data.get("flags", []), list):
            raise Malformed("the definitions are not an object with a list of flags")
        version = data.get("property_matching_version", 1)
        mapping = data.get("group_type_mapping") or {}
        raw_cohorts = data.get("cohorts") or {}
        if not isinstance(mapping, dict) or not isinstance(raw_cohorts, dict):
            raise Malformed("group_type_mapping and cohorts must be objects")
        flags: list[Flag] = []
        for raw in data.get("flags") or []:
            if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
                continue  # no key: nobody can ask for it
            try:
                flags.append(compile_flag(raw, version))
            except (Malformed, TypeError, ValueError, KeyError) as error:
                log_once(raw["key"], str(error) or type(error).__name__)
                flags.append(Flag(key=raw["key"], active=True, malformed=str(error)))
        cohorts = {str(k): compile_group(v, version) for k, v in raw_cohorts.items()}
        for cohort_id in _cyclic(cohorts):
            cohorts[cohort_id] = BrokenGroup()
        by_key = {flag.key: flag for flag in flags}
        for flag in flags:
            if flag.malformed is not None or flag.runtime == "client":
                continue  # logged already / evaluated by posthog-js only
            problem = server_only(flag, cohorts, by_key)
            if problem is not None:
                log_once(flag.key, *problem)
        unsupported = frozenset(
            flag.key
            for flag in flags
            if flag.malformed is None and _unsupported(flag, cohorts, by_key, mapping)
        )
        return cls(
            unsupported=unsupported,
            flags=tuple(flags),
            by_key=by_key,
            cohorts=cohorts,
            group_types={str(k): v for k, v in mapping.items() if isinstance(v, str) and v},
            matching_version=version,
            etag=etag,
            reads_distinct_id=_mentions_distinct_id(data.get("flags"))
            or _mentions_distinct_id(raw_cohorts),
            recent=RecentEvaluations(flags),
        )


def _mentions_distinct_id(value: Any) -> bool:
    # Over the raw JSON, so it cannot miss a filter wherever it is nested; a payload
    # that happens to hold {"key": "distinct_id"} only costs the copy.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("key") == "distinct_id":
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _unsupported(
    flag: Flag,
    cohorts: Mapping[str, PropertyGroup | BrokenGroup],
    by_key: Mapping[str, Flag],
    mapping: Mapping[Any, Any],
) -> bool:
    """Whether the definition alone sends the flag to the server (the reason PostHog's
    SDKs report for it then is ``unsupported_definition``)."""
    if not flag.active or flag.continuity:
        return False
    if flag.group_index is not None and not mapping.get(str(flag.group_index)):
        return True
    visited: set[str] = set()
    return any(
        _unsupported_entry(item, cohorts, by_key, visited)
        for condition in flag.conditions
        for item in condition.filters
    )


def _unsupported_entry(
    item: Filter | PropertyGroup | BrokenGroup,
    cohorts: Mapping[str, PropertyGroup | BrokenGroup],
    by_key: Mapping[str, Flag],
    visited: set[str],
) -> bool:
    if isinstance(item, BrokenGroup):
        return True
    if isinstance(item, PropertyFilter):
        return item.problem is not None
    if isinstance(item, DependencyFilter):
        if item.problem is not None:
            return False  # a definite no-match, not a gap
        return item.chain is None or any(member not in by_key for member in item.chain)
    if isinstance(item, PropertyGroup):
        return any(_unsupported_entry(e, cohorts, by_key, visited) for e, _ in item.entries)
    group = cohorts.get(item.cohort_id)
    if group is None or item.operator not in ("exact", "in", "not_in"):
        return True
    if item.cohort_id in visited:
        return False
    visited.add(item.cohort_id)
    return _unsupported_entry(group, cohorts, by_key, visited)


def _references(group: PropertyGroup | BrokenGroup) -> Iterator[str]:
    if isinstance(group, PropertyGroup):
        for entry, _ in group.entries:
            if isinstance(entry, CohortFilter):
                yield entry.cohort_id
            elif isinstance(entry, PropertyGroup):
                yield from _references(entry)


def _cyclic(cohorts: Mapping[str, PropertyGroup | BrokenGroup]) -> set[str]:
    """Cohorts that reach themselves: PostHog rejects them, so only the server decides."""
    edges = {cid: [r for r in _references(g) if r in cohorts] for cid, g in cohorts.items()}
    cyclic: set[str] = set()
    for start in edges:
        stack, seen = list(edges[start]), set()
        while stack:
            node = stack.pop()
            if node == start:
                cyclic.add(start)
                break
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
    return cyclic
