"""Flag definitions compiled once, at load, into the structures local evaluation walks.

A definition the engine cannot read (a wrong type where PostHog sends a number, a list
or an object) never raises into the app: its flag is compiled as *malformed* and goes
to the server, and the problem is logged once per flag key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from posthog_web.flags.properties import DATE_OPERATORS, Matcher, compile_property_checked

logger = logging.getLogger(__name__)


class Malformed(ValueError):
    """A definition has a shape PostHog never sends."""


@dataclass(frozen=True, slots=True)
class PropertyFilter:
    """A person or group property filter (``problem``: why it is never decided locally;
    ``key``: the property its matcher reads)."""

    matcher: Matcher
    problem: str | None = None
    key: str | None = None


@dataclass(frozen=True, slots=True)
class CohortFilter:
    """``{"type": "cohort", "value": id, "operator": "in" | "not_in" | "exact"}``."""

    cohort_id: str
    operator: str


@dataclass(frozen=True, slots=True)
class DependencyFilter:
    """``{"type": "flag", "key": other, "operator": "flag_evaluates_to", ...}``.

    ``problem``: a malformed shape, a definite no-match; ``chain`` None: the chain is
    missing or unusable (a circular dependency), which is unsupported.
    """

    key: str
    expected: Any
    chain: tuple[str, ...] | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class BrokenGroup:
    """A cohort group PostHog would never send: only the server can evaluate it."""


@dataclass(frozen=True, slots=True)
class PropertyGroup:
    """A cohort's AND/OR group; entries are (filter or group, negated)."""

    is_and: bool
    entries: tuple[tuple[Filter | PropertyGroup | BrokenGroup, bool], ...]


Filter = PropertyFilter | CohortFilter | DependencyFilter


@dataclass(frozen=True, slots=True)
class Condition:
    """One release condition: filters ANDed, then the rollout."""

    filters: tuple[Filter, ...]
    threshold: float | None  # rollout_percentage / 100; None: everyone who matches
    variant: str | None  # a valid variant override
    group_index: Any = None  # its own group type index (mixed targeting), else None


@dataclass(frozen=True, slots=True)
class Flag:
    """A compiled flag definition."""

    key: str
    id: int | None = None
    version: int | None = None
    active: bool = False
    continuity: bool = False
    group_index: Any = None
    device_bucketing: bool = False
    enrollment: bool = False
    holdout: tuple[float, str] | None = None
    early_exit: bool = False
    conditions: tuple[Condition, ...] = ()
    variants: tuple[tuple[str, float, float], ...] = ()
    payloads: Mapping[str, Any] = field(default_factory=dict)
    has_experiment: bool | None = None
    runtime: str = "all"
    malformed: str | None = None
    plain: bool = False  # person flag of property filters only: the engine's fast path
    # A plain flag without date filters (which read the clock): its value depends on the
    # distinct id and the person properties alone, so an evaluation can be reused.
    pure: bool = False
    # The person properties its property filters read, each once, in order.
    person_keys: tuple[str, ...] = ()


def _number(value: Any, what: str) -> float:
    # bool is an int to PostHog's Python evaluator too.
    if not isinstance(value, (int, float)):
        raise Malformed(f"{what} must be a number, not {type(value).__name__}")
    return float(value)


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Malformed(f"{what} must be a list, not {type(value).__name__}")
    return value


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed(f"{what} must be an object, not {type(value).__name__}")
    return value


def compile_filter(raw: Any, matching_version: int) -> Filter:
    """Compile one condition or cohort filter."""
    if not isinstance(raw, dict):
        raise Malformed(f"a filter must be an object, not {type(raw).__name__}")
    kind = raw.get("type")
    if kind == "cohort":
        return CohortFilter(str(raw.get("value")), raw.get("operator") or "exact")
    if kind == "flag":
        return _compile_dependency(raw)
    key = raw.get("key")
    if not isinstance(key, str):
        raise Malformed(f"a property filter's key must be a str, not {type(key).__name__}")
    return PropertyFilter(*compile_property_checked(raw, matching_version), key=key)


def _compile_dependency(raw: dict[str, Any]) -> DependencyFilter:
    key = raw.get("key")
    expected = raw.get("value")
    problem = None
    if raw.get("operator", "exact") != "flag_evaluates_to":
        problem = f"invalid operator {raw.get('operator', 'exact')!r}"
    elif not key or expected is None:
        problem = "missing key or value"
    if key is not None and not isinstance(key, str):
        raise Malformed("a flag dependency's key must be a str")
    chain = raw.get("dependency_chain")
    usable: tuple[str, ...] | None = None
    if isinstance(chain, list) and chain:
        if not all(isinstance(member, str) for member in chain):
            raise Malformed("dependency_chain must list flag keys")
        usable = tuple(chain)
    return DependencyFilter(key or "", expected, usable, problem)


def _is_group(raw: dict[str, Any]) -> bool:
    return raw == {} or "values" in raw or raw.get("type") in ("AND", "OR")


def compile_group(raw: Any, matching_version: int) -> PropertyGroup | BrokenGroup:
    """Compile a cohort's property group (nested groups, negated entries)."""
    if raw == {}:
        return PropertyGroup(True, ())
    if not isinstance(raw, dict) or raw.get("type") not in ("AND", "OR"):
        return BrokenGroup()
    values = raw.get("values")
    if not isinstance(values, list):
        return BrokenGroup()
    entries: list[tuple[Filter | PropertyGroup | BrokenGroup, bool]] = []
    for entry in values:
        if not isinstance(entry, dict):
            entries.append((BrokenGroup(), False))
        elif _is_group(entry):
            entries.append((compile_group(entry, matching_version), False))
        else:
            try:
                compiled: Filter | BrokenGroup = compile_filter(entry, matching_version)
            except Malformed:
                compiled = BrokenGroup()
            entries.append((compiled, bool(entry.get("negation", False))))
    return PropertyGroup(raw["type"] == "AND", tuple(entries))


def _threshold(rollout: object) -> float | None:
    # The hash is at most 1.0, so a rollout of 100 % or more checks nothing: no hash.
    if rollout is None:
        return None
    threshold = _number(rollout, "rollout_percentage") / 100
    return None if threshold >= 1.0 else threshold


def compile_flag(raw: dict[str, Any], matching_version: int) -> Flag:
    """Compile one flag; raises Malformed."""
    key = raw["key"]
    filters = _dict(raw.get("filters"), "filters")
    variants: list[tuple[str, float, float]] = []
    low: float = 0
    multivariate = _dict(filters.get("multivariate"), "multivariate")
    for variant in _list(multivariate.get("variants"), "variants"):
        if not isinstance(variant, dict) or not isinstance(variant.get("key"), str):
            raise Malformed("a variant must be an object with a str key")
        # The same float accumulation as PostHog: 10 x 10% ends at 0.9999999999999999.
        high = low + _number(variant.get("rollout_percentage"), "rollout_percentage") / 100
        variants.append((variant["key"], low, high))
        low = high
    variant_keys = [variant[0] for variant in variants]
    conditions = []
    for condition in _list(filters.get("groups"), "groups"):
        condition = _dict(condition, "a condition")
        rollout = condition.get("rollout_percentage")
        override = condition.get("variant")
        conditions.append(
            Condition(
                tuple(
                    compile_filter(item, matching_version)
                    for item in _list(condition.get("properties"), "properties")
                ),
                _threshold(rollout),
                override if override and override in variant_keys else None,
                _own_index(condition, filters.get("aggregation_group_type_index")),
            )
        )
    holdout = None
    raw_holdout = filters.get("holdout")
    if raw_holdout:
        raw_holdout = _dict(raw_holdout, "holdout")
        percentage, holdout_id = raw_holdout.get("exclusion_percentage"), raw_holdout.get("id")
        if percentage is not None and holdout_id is not None:
            try:
                clamped = min(max(float(percentage), 0.0), 100.0)
            except (TypeError, ValueError):
                raise Malformed("holdout exclusion_percentage must be a number") from None
            holdout = (clamped, f"holdout-{holdout_id}")
    identifier = raw.get("bucketing_identifier") or filters.get("bucketing_identifier")
    plain = (
        not raw.get("ensure_experience_continuity", False)
        and filters.get("aggregation_group_type_index") is None
        and identifier != "device_id"
        and filters.get("feature_enrollment") is not True
        and holdout is None
        and all(
            c.group_index is None and all(type(f) is PropertyFilter for f in c.filters)
            for c in conditions
        )
    )
    pure = plain and not any(
        isinstance(item, dict) and item.get("operator") in DATE_OPERATORS
        for condition in _list(filters.get("groups"), "groups")
        for item in _list(condition.get("properties"), "properties")
    )
    has_experiment = raw.get("has_experiment")
    return Flag(
        key=key,
        id=raw.get("id") if isinstance(raw.get("id"), int) else None,
        version=raw.get("version") if isinstance(raw.get("version"), int) else None,
        active=bool(raw.get("active")),
        continuity=bool(raw.get("ensure_experience_continuity", False)),
        group_index=filters.get("aggregation_group_type_index"),
        device_bucketing=identifier == "device_id",
        enrollment=filters.get("feature_enrollment") is True,
        holdout=holdout,
        early_exit=bool(filters.get("early_exit")),
        conditions=tuple(conditions),
        variants=tuple(variants),
        payloads=_dict(filters.get("payloads"), "payloads"),
        has_experiment=has_experiment if isinstance(has_experiment, bool) else None,
        runtime=raw.get("evaluation_runtime") or "all",
        plain=plain,
        pure=pure,
        person_keys=tuple(
            dict.fromkeys(
                f.key
                for condition in conditions
                for f in condition.filters
                if type(f) is PropertyFilter and f.key is not None
            )
        ),
    )


def server_only(
    flag: Flag, cohorts: Mapping[str, object], keys: Mapping[str, Flag]
) -> tuple[str, int] | None:
    """Why ``flag`` always goes to the server (and the log level), or None.

    Experience continuity and static cohorts are by design (INFO); the rest are
    definitions the local evaluator cannot use (WARNING).
    """
    if not flag.active:
        return None
    if flag.continuity:
        return "experience continuity is on (the server keeps variants through login)", logging.INFO
    problem = _filter_problem(flag, cohorts, keys)
    if problem is None:
        return None
    return problem, logging.INFO if "is static" in problem else logging.WARNING


def _filter_problem(
    flag: Flag, cohorts: Mapping[str, object], keys: Mapping[str, Flag]
) -> str | None:
    for condition in flag.conditions:
        for item in condition.filters:
            if isinstance(item, PropertyFilter) and item.problem is not None:
                return item.problem
            if isinstance(item, CohortFilter) and item.cohort_id not in cohorts:
                return f"cohort {item.cohort_id} is static (not sent with the definitions)"
            if isinstance(item, DependencyFilter) and item.problem is None:
                if item.chain is None:
                    return f"the dependency on {item.key!r} is circular or has no chain"
                missing = [member for member in item.chain if member not in keys]
                if missing:
                    return f"it depends on unknown flags {missing}"
    return None


def _own_index(condition: dict[str, Any], flag_index: Any) -> Any:
    # A condition aggregates by its own group only when it names another, non-null one.
    index = condition.get("aggregation_group_type_index", flag_index)
    return index if index != flag_index else None


_logged: set[tuple[str, str]] = set()


def log_once(key: str, problem: str, level: int = logging.WARNING) -> None:
    """Log a definition problem once per (flag, problem) per process (bounded)."""
    if (key, problem) in _logged:
        return
    if len(_logged) < 10_000:
        _logged.add((key, problem))
    logger.log(level, "posthog-web: feature flag %r cannot be evaluated locally: %s", key, problem)
