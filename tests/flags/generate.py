"""Seeded random flag definitions and calls for the differential test."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

FROZEN_NOW = dt.datetime(2026, 3, 31, 12, 0, 0, tzinfo=dt.timezone.utc)

OPERATORS = [
    "exact", "is_not", "is_set", "is_not_set", "icontains", "not_icontains", "regex",
    "not_regex", "starts_with", "not_starts_with", "ends_with", "not_ends_with", "gt", "gte",
    "lt", "lte", "is_date_before", "is_date_after", "semver_eq", "semver_neq", "semver_gt",
    "semver_gte", "semver_lt", "semver_lte", "semver_tilde", "semver_caret", "semver_wildcard",
    "is_date_exact", "bogus", None,
]  # fmt: skip
KEYS = ["email", "plan", "age", "country", "signed_up", "app_version", "beta", "name"]
STRINGS = [
    "pro", "Pro", "PRO", "free", "", "example@x.com", "Example@X.COM", "οδος", "ΟΔΟΣ", "ÄB",
    "äb", "true", "false", "True", "FALSE", "banana", "user-12", "10", "11", "9.5", "1e3",
    "abc", "null", " 5 ", "1.2.3", "v1.10.0", "1.2", "01.2.3", "1.2.3-beta", "2.0.0", "0.2.5",
    "0.0.3", "1.*", "1.2.*", "~1.2.3", "line\n",
]  # fmt: skip
NUMBERS: list[Any] = [0, 1, 5, 5.0, 9, 10, 10.5, -3, 1e16, 1.5e-5, 0.1, 100, True, False]
DATES = [
    "2024-01-01", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00+02:00", "2024-01-01 00:00:00 UTC",
    "2026-03-30", "2026-04-01T00:00:00", "2025", "2027", "-7d", "7d", "-2m", "1y", "-12h", "3w",
    "10000d", "5x", "garbage", "2026-02-29",
]  # fmt: skip
REGEXES = [
    r"^user-\d+$", r"pro", r"^P", r"(", r"\bword\b", r"(?i)pro", r"(a+)+", r"[a-z]+@x\.com",
    r"", r"^$", r"a{2,3}", r"(?:ab)|cd", r"[\d-z]", r"\w+", r"\s", r"x$", r"[]", r"a**",
    r"^(pro|free)$", r"\x41", r"é",
]  # fmt: skip
VALUES: list[Any] = STRINGS + NUMBERS + DATES + REGEXES + [None, [], ["pro", "free"], ["true"],
    ["true", "false"], [1, "2"], {"a": 1}, [True]]  # fmt: skip


class Generator:
    """Builds definitions and calls from a seed; the same seed, the same cases."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def value(self) -> Any:
        r = self.r.random()
        if r < 0.35:
            return self.r.choice(STRINGS)
        if r < 0.55:
            return self.r.choice(NUMBERS)
        if r < 0.7:
            return self.r.choice(DATES)
        if r < 0.8:
            return self.r.choice(REGEXES)
        return self.r.choice(VALUES)

    def property_filter(
        self, kind: str = "person", group_index: int | None = None
    ) -> dict[str, Any]:
        prop: dict[str, Any] = {"key": self.r.choice(KEYS), "type": kind}
        operator = self.r.choice(OPERATORS)
        if operator is not None:
            prop["operator"] = operator
        prop["value"] = self.value()
        if group_index is not None:
            prop["group_type_index"] = group_index
        return prop

    def cohort_group(self, depth: int, cohort_ids: list[str]) -> dict[str, Any]:
        entries: list[Any] = []
        for _ in range(self.r.randint(0, 3)):
            r = self.r.random()
            if r < 0.2 and depth < 3:
                entries.append(self.cohort_group(depth + 1, cohort_ids))
            elif r < 0.3 and cohort_ids:
                entries.append({"key": "id", "type": "cohort", "value": self.r.choice(cohort_ids),
                                "negation": self.r.random() < 0.3})  # fmt: skip
            elif r < 0.33:
                entries.append({"key": "id", "type": "cohort", "value": 999})  # static
            else:
                entry = self.property_filter()
                if self.r.random() < 0.3:
                    entry["negation"] = True
                entries.append(entry)
        if self.r.random() < 0.03:
            return {}
        return {"type": self.r.choice(["AND", "OR"]), "values": entries}

    def definitions(self, n_flags: int = 6) -> dict[str, Any]:
        cohorts: dict[str, Any] = {}
        for i in range(self.r.randint(0, 3)):
            cohorts[str(i + 1)] = self.cohort_group(0, list(cohorts))
        flags: list[dict[str, Any]] = []
        for i in range(n_flags):
            flags.append(self.flag(f"flag-{i}-{self.r.randint(0, 10**6)}", flags, list(cohorts)))
        defs: dict[str, Any] = {
            "flags": flags,
            "group_type_mapping": {"0": "company", "1": "project"},
            "cohorts": cohorts,
        }
        if self.r.random() < 0.4:
            defs["property_matching_version"] = 2
        return defs

    def flag(self, key: str, earlier: list[dict[str, Any]], cohorts: list[str]) -> dict[str, Any]:
        r = self.r
        variants = []
        if r.random() < 0.5:
            count = r.randint(1, 5)
            shares = [r.choice([10, 20, 33, 34, 50, 5]) for _ in range(count)]
            if r.random() < 0.7:
                shares = [100 // count] * count
                shares[-1] += 100 - sum(shares)
            variants = [{"key": f"v{j}", "rollout_percentage": s} for j, s in enumerate(shares)]
        group_flag = r.random() < 0.15
        groups = []
        for _ in range(r.randint(0, 3)):
            condition: dict[str, Any] = {
                "properties": [],
                "rollout_percentage": r.choice([0, 1, 33.3, 50, 99.9, 100, None, 45]),
            }
            for _ in range(r.randint(0, 3)):
                pick = r.random()
                if pick < 0.12 and cohorts:
                    condition["properties"].append({"key": "id", "type": "cohort",
                        "value": int(r.choice(cohorts)),
                        "operator": r.choice(["in", "not_in", "exact", "bogus"])})  # fmt: skip
                elif pick < 0.15:
                    condition["properties"].append({"key": "id", "type": "cohort", "value": 404})
                elif pick < 0.3 and earlier:
                    other = r.choice(earlier)["key"]
                    dep: dict[str, Any] = {"key": other, "type": "flag",
                        "operator": "flag_evaluates_to",
                        "value": r.choice([True, False, "v0", "v1", None])}  # fmt: skip
                    chain_kind = r.random()
                    if chain_kind < 0.8:
                        dep["dependency_chain"] = [other]
                    elif chain_kind < 0.9:
                        dep["dependency_chain"] = []
                    elif chain_kind < 0.95:
                        dep["dependency_chain"] = ["missing-flag", other]
                    if r.random() < 0.05:
                        dep["operator"] = "exact"
                    condition["properties"].append(dep)
                else:
                    condition["properties"].append(self.property_filter())
            if variants and r.random() < 0.3:
                condition["variant"] = r.choice(["v0", "v1", "nope"])
            if not group_flag and r.random() < 0.08:
                condition["aggregation_group_type_index"] = r.choice([0, 1, 7])
            groups.append(condition)
        filters: dict[str, Any] = {"groups": groups}
        if variants:
            filters["multivariate"] = {"variants": variants}
        if group_flag:
            filters["aggregation_group_type_index"] = r.choice([0, 1, 0, 5])
        if r.random() < 0.1:
            filters["holdout"] = {
                "id": r.randint(1, 9),
                "exclusion_percentage": r.choice([0, 20, 50, 100, 120]),
            }
        if r.random() < 0.1:
            filters["early_exit"] = True
        if r.random() < 0.04:
            filters["feature_enrollment"] = True
        if r.random() < 0.5:
            filters["payloads"] = {"true": '{"a": 1}', "v0": '"zero"', "false": "not json"}
        flag: dict[str, Any] = {
            "id": r.randint(1, 1000),
            "key": key,
            "active": r.random() > 0.08,
            "version": r.randint(1, 9),
            "filters": filters,
        }
        if r.random() < 0.04:
            flag["ensure_experience_continuity"] = True
        if r.random() < 0.05:
            flag["bucketing_identifier"] = "device_id"
        return flag

    def call(self) -> dict[str, Any]:
        r = self.r
        props: dict[str, Any] = {}
        for key in KEYS:
            if r.random() < 0.6:
                props[key] = self.value()
        if r.random() < 0.05:
            props[f"$feature_enrollment/{r.choice(['x', 'y'])}"] = r.choice([True, "true", False])
        groups: dict[str, Any] = {}
        group_properties: dict[str, dict[str, Any]] = {}
        for name in ("company", "project"):
            if r.random() < 0.5:
                groups[name] = r.choice(["acme-inc", "initech", "globex", 42])
                group_properties[name] = {k: self.value() for k in KEYS if r.random() < 0.5}
        return {
            "distinct_id": r.choice(
                [f"user-{r.randint(0, 10**6)}", f"distinct_id_{r.randint(0, 999)}"]
            ),
            "person_properties": props,
            "groups": groups,
            "group_properties": group_properties,
            "device_id": r.choice([None, "dev-A", f"dev-{r.randint(0, 99)}"]),
        }
