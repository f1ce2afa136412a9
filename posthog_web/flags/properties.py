"""Property filters compiled once into matchers: ``matcher(properties) -> bool``.

A matcher raises :class:`Undecided` when the filter cannot be decided locally: the
property is absent (for every operator, ``is_not_set`` included), the call's value is
unusable (``missing_context``), or the filter itself is (``unsupported_definition``,
which outranks the other). Semantics: docs/flags.md and PostHog's flag evaluators.
"""

from __future__ import annotations

import datetime as dt
import math
import operator as operator_module
from collections.abc import Callable, Mapping
from typing import Any

from posthog_web.flags import values as vals
from posthog_web.flags.reasons import MISSING_CONTEXT, UNSUPPORTED_DEFINITION, Undecided
from posthog_web.flags.regex import Deferred, Pattern, compile_pattern

Matcher = Callable[[Mapping[str, Any]], bool]

TEXT_OPERATORS = frozenset(
    ("icontains", "not_icontains", "starts_with", "not_starts_with", "ends_with", "not_ends_with")
)
NUMERIC_OPERATORS = frozenset(("gt", "gte", "lt", "lte"))
DATE_OPERATORS = frozenset(("is_date_before", "is_date_after"))
SEMVER_COMPARISONS = frozenset(
    ("semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte")
)
SEMVER_RANGES = frozenset(("semver_tilde", "semver_caret", "semver_wildcard"))
OPERATORS = (
    frozenset(("exact", "is_not", "is_set", "is_not_set", "regex", "not_regex"))
    | TEXT_OPERATORS
    | NUMERIC_OPERATORS
    | DATE_OPERATORS
    | SEMVER_COMPARISONS
    | SEMVER_RANGES
)

# The operator module's C functions: a flag read calls one without a Python frame.
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator_module.gt,
    "gte": operator_module.ge,
    "lt": operator_module.lt,
    "lte": operator_module.le,
    "semver_eq": operator_module.eq,
    "semver_neq": operator_module.ne,
    "semver_gt": operator_module.gt,
    "semver_gte": operator_module.ge,
    "semver_lt": operator_module.lt,
    "semver_lte": operator_module.le,
}


def _unsupported() -> Undecided:
    return Undecided(UNSUPPORTED_DEFINITION)


def compile_property(raw: Mapping[str, Any], matching_version: int) -> Matcher:
    """Compile a person or group property filter (``type`` not cohort or flag)."""
    return compile_property_checked(raw, matching_version)[0]


def compile_property_checked(
    raw: Mapping[str, Any], matching_version: int
) -> tuple[Matcher, str | None]:
    """The matcher, and why the filter can never be decided locally (or None)."""
    key: Any = raw.get("key")
    operator = raw.get("operator") or "exact"
    value = raw.get("value")
    if not isinstance(operator, str) or operator not in OPERATORS:

        def unknown(properties: Mapping[str, Any]) -> bool:
            raise _unsupported()

        return unknown, f"unknown operator {operator!r}"
    core, bad = _compile_operator(operator, value, matching_version)
    if not bad:
        fast = _fast_matcher(key, operator, value, matching_version)
        if fast is not None:
            return fast, None

    def match(properties: Mapping[str, Any]) -> bool:
        if key not in properties:
            raise Undecided(MISSING_CONTEXT)
        return core(properties[key])

    if not bad:
        return match, None

    def match_bad_filter(properties: Mapping[str, Any]) -> bool:
        # An unusable filter outranks missing context.
        try:
            return match(properties)
        except Undecided as undecided:
            if undecided.reason == MISSING_CONTEXT:
                raise _unsupported() from None
            raise

    return match_bad_filter, f"{operator} cannot use the value {value!r}"


def _fast_matcher(key: Any, operator: str, value: Any, version: int) -> Matcher | None:
    """One closure for the common filters (the same semantics as the general path)."""
    if (
        operator in ("exact", "is_not")
        and value != []
        and not (version != 2 and vals.is_boolish(value))
    ):
        items = value if isinstance(value, list) else [value]
        wanted = frozenset(vals.as_text(item, UNSUPPORTED_DEFINITION).lower() for item in items)
        negate = operator == "is_not"

        def exact(properties: Mapping[str, Any]) -> bool:
            if key not in properties:
                raise Undecided(MISSING_CONTEXT)
            prop = properties[key]
            text = prop if type(prop) is str else vals.json_text(prop, MISSING_CONTEXT)
            return (text.lower() in wanted) != negate

        return exact
    if operator in NUMERIC_OPERATORS:
        limit = vals.number(value)
        compare = _COMPARE[operator]

        def numeric(properties: Mapping[str, Any]) -> bool:
            if key not in properties:
                raise Undecided(MISSING_CONTEXT)
            prop = properties[key]
            kind = type(prop)
            parsed: float | None
            if kind is float:
                parsed = prop if math.isfinite(prop) else None
            elif kind is int and -1e300 < prop < 1e300:
                parsed = float(prop)
            else:
                parsed = vals.number(prop)
            return False if parsed is None else compare(parsed, limit)

        return numeric
    if operator in ("icontains", "not_icontains"):
        needle = vals.ascii_lower(vals.as_text(value, UNSUPPORTED_DEFINITION))
        negate = operator == "not_icontains"

        def icontains(properties: Mapping[str, Any]) -> bool:
            if key not in properties:
                raise Undecided(MISSING_CONTEXT)
            prop = properties[key]
            text = prop if type(prop) is str else vals.json_text(prop, MISSING_CONTEXT)
            # For ASCII text, str.lower is ASCII lowering, and much faster than translate.
            haystack = text.lower() if text.isascii() else vals.ascii_lower(text)
            return (needle in haystack) != negate

        return icontains
    if operator in SEMVER_COMPARISONS or operator in SEMVER_RANGES:
        return _fast_semver(key, operator, value)
    return None


# Parsed person versions ("2.3.1" -> (2, 3, 1)): an app has few, and every semver
# filter of every flag reads them. Bounded; a race only parses a value twice.
_VERSIONS: dict[str, vals.Version] = {}
_VERSIONS_MAX = 4096


def _fast_semver(key: Any, operator: str, value: Any) -> Matcher | None:
    # Only for a filter value that parses (else the general path raises unsupported).
    try:
        if operator in SEMVER_RANGES:
            low, high = vals.semver_range(operator, value)
            compare: Callable[[Any, Any], bool] | None = None
            target: vals.Version = low
        else:
            target = vals.parse_semver(value)
            compare = _COMPARE[operator]
            low = high = target
    except (ValueError, TypeError):
        return None
    versions = _VERSIONS

    def semver(properties: Mapping[str, Any]) -> bool:
        if key not in properties:
            raise Undecided(MISSING_CONTEXT)
        prop = properties[key]
        if prop is None:
            return False
        version = versions.get(prop) if type(prop) is str else None
        if version is None:
            try:
                version = vals.parse_semver(prop)
            except (ValueError, TypeError):
                raise Undecided(MISSING_CONTEXT) from None
            if type(prop) is str:
                if len(versions) >= _VERSIONS_MAX:
                    versions.clear()
                versions[prop] = version
        if compare is None:
            return low <= version < high
        return compare(version, target)

    return semver


def _compile_operator(
    operator: str, value: Any, version: int
) -> tuple[Callable[[Any], bool], bool]:
    if operator in ("is_set", "is_not_set"):
        result = operator == "is_set"
        return (lambda _: result), False
    if operator in ("exact", "is_not"):
        return _exact(value, version, negate=operator == "is_not")
    if operator in TEXT_OPERATORS:
        return _text(operator, value)
    if operator in ("regex", "not_regex"):
        return _regex(str(value), negate=operator == "not_regex")
    if operator in NUMERIC_OPERATORS:
        return _numeric(operator, value)
    if operator in DATE_OPERATORS:
        return _date(operator, value)
    return _semver(operator, value)


def _exact(value: Any, version: int, *, negate: bool) -> tuple[Callable[[Any], bool], bool]:
    wanted: frozenset[str] | None = None
    try:
        items = value if isinstance(value, list) else [value]
        wanted = frozenset(vals.as_text(item, UNSUPPORTED_DEFINITION).lower() for item in items)
    except Undecided:
        pass
    empty = value == []
    legacy_bool = version != 2 and vals.is_boolish(value)
    filter_truth = vals.truthy(value)

    def exact(prop: Any) -> bool:
        text = vals.as_text(prop, MISSING_CONTEXT).lower()
        if empty:
            matched = vals.truthy(prop)
        elif legacy_bool:
            matched = filter_truth == vals.truthy(prop)
        elif wanted is None:
            raise _unsupported()
        else:
            matched = text in wanted
        return matched != negate

    return exact, wanted is None


def _text(operator: str, value: Any) -> tuple[Callable[[Any], bool], bool]:
    try:
        needle: str | None = vals.ascii_lower(vals.as_text(value, UNSUPPORTED_DEFINITION))
    except Undecided:
        needle = None
    negate = operator.startswith("not_")
    kind = operator.removeprefix("not_")

    def text(prop: Any) -> bool:
        haystack = vals.ascii_lower(vals.as_text(prop, MISSING_CONTEXT))
        if needle is None:
            raise _unsupported()
        if kind == "icontains":
            matched = needle in haystack
        elif kind == "starts_with":
            matched = haystack.startswith(needle)
        else:
            matched = haystack.endswith(needle)
        return matched != negate

    return text, needle is None


def _regex(pattern_text: str, *, negate: bool) -> tuple[Callable[[Any], bool], bool]:
    deferred = False
    pattern: Pattern | None = None
    if pattern_text:
        try:
            pattern = compile_pattern(pattern_text)
        except Deferred:
            deferred = True
    invalid = bool(pattern_text) and pattern is None and not deferred

    def regex(prop: Any) -> bool:
        text = vals.as_text(prop, MISSING_CONTEXT)
        if deferred:
            raise _unsupported()
        if invalid:
            return False
        matched = True if pattern is None else pattern.search(text)
        return matched != negate

    return regex, deferred


def _numeric(operator: str, value: Any) -> tuple[Callable[[Any], bool], bool]:
    limit = vals.number(value)
    compare = _COMPARE[operator]

    def numeric(prop: Any) -> bool:
        if limit is None:
            raise _unsupported()
        parsed = vals.number(prop)
        return False if parsed is None else compare(parsed, limit)

    return numeric, limit is None


def _date(operator: str, value: Any) -> tuple[Callable[[Any], bool], bool]:
    date_filter: vals.DateFilter | None
    try:
        date_filter = vals.DateFilter(str(value))
    except (ValueError, OverflowError, Undecided):
        date_filter = None
    before = operator == "is_date_before"

    def compare(prop: Any, moment: Any) -> bool:
        return bool(prop < moment) if before else bool(prop > moment)

    def date(prop: Any) -> bool:
        if prop is None:
            return False
        if date_filter is None:
            raise _unsupported()
        moment = date_filter.resolve()
        if isinstance(prop, dt.datetime):
            return compare(vals.aware(prop), moment)
        if isinstance(prop, dt.date):
            return compare(prop, moment.date())
        if isinstance(prop, str):
            try:
                return compare(vals.aware(vals.parse_datetime(prop)), moment)
            except Exception:
                raise Undecided(MISSING_CONTEXT) from None
        raise Undecided(MISSING_CONTEXT)  # unix timestamps: the server decides

    return date, date_filter is None


def _semver(operator: str, value: Any) -> tuple[Callable[[Any], bool], bool]:
    bounds: tuple[vals.Version, vals.Version] | None = None
    target: vals.Version | None = None
    try:
        if operator in SEMVER_RANGES:
            bounds = vals.semver_range(operator, value)
        else:
            target = vals.parse_semver(value)
    except (ValueError, TypeError):
        pass
    bad = bounds is None and target is None
    compare = _COMPARE.get(operator)

    def semver(prop: Any) -> bool:
        if prop is None:
            return False
        if bad:
            raise _unsupported()
        try:
            version = vals.parse_semver(prop)
        except (ValueError, TypeError):
            raise Undecided(MISSING_CONTEXT) from None
        if bounds is not None:
            return bounds[0] <= version < bounds[1]
        return compare is not None and compare(version, target)

    return semver, bad
