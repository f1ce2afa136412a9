"""The inbox's flags file: a short format a developer writes, checked field by field and
translated into PostHog's local-evaluation definitions (docs/inbox.md, "Feature flags").

A file is either that short format or a raw ``/api/feature_flag/local_evaluation``
answer (an object whose ``flags`` hold ``filters``), which is used as it is.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.model import Malformed
from posthog_web.flags.properties import compile_property_checked

_FLAG_FIELDS = frozenset(
    {"key", "active", "rollout", "variants", "payloads", "properties", "conditions", "id"}
)
_CONDITION_FIELDS = frozenset({"properties", "rollout", "variant"})
_PROPERTY_FIELDS = frozenset({"key", "value", "operator", "type"})


class FlagsFileError(ValueError):
    """A flags file (or dict) that is not valid; the message names the field."""


def load_flags(source: str | Path | Mapping[str, Any] | list[Any]) -> dict[str, Any]:
    """Read a flags file (a path) or an already parsed value and return the definitions
    body (``{"flags", "group_type_mapping", "cohorts"}``) it stands for.

    Raises FlagsFileError naming the file and the field.
    """
    where = ""
    if isinstance(source, (str, Path)):
        where = f"{source}: "
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise FlagsFileError(f"{where}cannot read the flags file ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise FlagsFileError(f"{where}the flags file is not UTF-8") from exc
        try:
            data: Any = json.loads(text)
        except ValueError as exc:
            raise FlagsFileError(f"{where}not valid JSON ({exc})") from exc
    else:
        data = source
    try:
        body = translate(data)
        _check_raw(body)
    except Malformed as exc:
        raise FlagsFileError(f"{where}{exc}") from exc
    except FlagsFileError as exc:
        raise FlagsFileError(f"{where}{exc}") from exc
    return body


def is_raw(data: Any) -> bool:
    """Whether ``data`` is a raw local-evaluation answer (its flags have ``filters``)."""
    if not isinstance(data, dict):
        return False
    if "group_type_mapping" in data or "cohorts" in data:
        return True
    return isinstance(data.get("flags"), list) and any(
        isinstance(flag, dict) and "filters" in flag for flag in data["flags"]
    )


def _check_raw(body: dict[str, Any]) -> None:
    # The engine keeps a malformed flag (it goes to the server); a file is refused instead.
    defs = Definitions.from_json(body)
    for index, raw in enumerate(body.get("flags") or []):
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str) or not raw["key"]:
            raise FlagsFileError(f"flags[{index}].key: a non-empty string is required")
    malformed = [f for f in defs.flags if f.malformed is not None]
    if malformed:
        index = [raw["key"] for raw in body["flags"]].index(malformed[0].key)
        raise FlagsFileError(f"flags[{index}] ({malformed[0].key!r}): {malformed[0].malformed}")


def translate(data: Any) -> dict[str, Any]:
    """The definitions body for a parsed flags file (raw answers pass through)."""
    if is_raw(data):
        # Served as it is, but whole: a raw answer may leave out its (empty) parts.
        body = dict(data)
        for name, empty in (("flags", []), ("group_type_mapping", {}), ("cohorts", {})):
            if body.get(name) is None:
                body[name] = empty
        return body
    if isinstance(data, dict) and isinstance(data.get("flags"), list) and len(data) == 1:
        data = data["flags"]
    specs: list[tuple[str, Any, str | None]] = []
    if isinstance(data, list):
        for index, spec in enumerate(data):
            specs.append((f"flags[{index}]", spec, None))
    elif isinstance(data, dict):
        for key, spec in data.items():
            specs.append((f"flags[{key!r}]", spec, str(key)))
    else:
        raise FlagsFileError(
            f"the flags file must be a list or an object of flags, not {type(data).__name__}"
        )
    flags: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, (where, spec, key) in enumerate(specs):
        flag = _flag(where, spec, key, index + 1)
        if flag["key"] in seen:
            raise FlagsFileError(f"{where}.key: {flag['key']!r} is defined twice")
        seen.add(flag["key"])
        flags.append(flag)
    return {"flags": flags, "group_type_mapping": {}, "cohorts": {}}


def _flag(where: str, spec: Any, key: str | None, default_id: int) -> dict[str, Any]:
    if isinstance(spec, bool):
        spec = {"active": spec}
    elif isinstance(spec, str) and key is not None:
        spec = {"variants": {spec: 100}}
    if not isinstance(spec, dict):
        raise FlagsFileError(f"{where}: a flag must be an object, not {type(spec).__name__}")
    unknown = sorted(set(spec) - _FLAG_FIELDS)
    if unknown:
        raise FlagsFileError(f"{where}.{unknown[0]}: unknown field (known: {_known(_FLAG_FIELDS)})")
    key = spec.get("key", key)
    if not isinstance(key, str) or not key:
        raise FlagsFileError(f"{where}.key: a non-empty string is required")
    flag_id = spec.get("id", default_id)
    if not isinstance(flag_id, int) or isinstance(flag_id, bool):
        raise FlagsFileError(f"{where}.id: must be an integer")
    active = spec.get("active", True)
    if not isinstance(active, bool):
        raise FlagsFileError(f"{where}.active: must be true or false")
    variants = _variants(f"{where}.variants", spec.get("variants"))
    if "conditions" in spec:
        if "properties" in spec or "rollout" in spec:
            raise FlagsFileError(f"{where}.conditions: give conditions or properties/rollout")
        raw_conditions = spec["conditions"]
        if not isinstance(raw_conditions, list) or not raw_conditions:
            raise FlagsFileError(f"{where}.conditions: must be a non-empty list")
        groups = [
            _condition(f"{where}.conditions[{i}]", c, variants, _CONDITION_FIELDS)
            for i, c in enumerate(raw_conditions)
        ]
    else:
        single = {k: spec[k] for k in ("properties", "rollout") if k in spec}
        groups = [_condition(where, single, variants, _CONDITION_FIELDS - {"variant"})]
    filters: dict[str, Any] = {
        "groups": groups,
        "payloads": _payloads(f"{where}.payloads", spec.get("payloads"), variants),
        "multivariate": None,
    }
    if variants:
        filters["multivariate"] = {
            "variants": [{"key": k, "rollout_percentage": p} for k, p in variants.items()]
        }
    return {
        "id": flag_id,
        "key": key,
        "name": key,
        "active": active,
        "deleted": False,
        "version": 1,
        "ensure_experience_continuity": False,
        "filters": filters,
    }


def _percentage(where: str, value: Any) -> float:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 <= value <= 100
    ):
        raise FlagsFileError(f"{where}: must be a number from 0 to 100, not {value!r}")
    return value


def _variants(where: str, raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise FlagsFileError(f"{where}: must be an object of variant key -> percentage")
    variants = {}
    for name, share in raw.items():
        if not isinstance(name, str) or not name:
            raise FlagsFileError(f"{where}: a variant key must be a non-empty string")
        variants[name] = _percentage(f"{where}[{name!r}]", share)
    total = sum(variants.values())
    if not math.isclose(total, 100):
        raise FlagsFileError(f"{where}: the percentages must add up to 100, not {total:g}")
    return variants


def _condition(
    where: str, raw: Any, variants: Mapping[str, float], fields: frozenset[str]
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FlagsFileError(f"{where}: a condition must be an object")
    unknown = sorted(set(raw) - fields)
    if unknown:
        raise FlagsFileError(f"{where}.{unknown[0]}: unknown field (known: {_known(fields)})")
    rollout = _percentage(f"{where}.rollout", raw.get("rollout", 100))
    variant = raw.get("variant")
    if variant is not None and (not isinstance(variant, str) or variant not in variants):
        raise FlagsFileError(f"{where}.variant: {variant!r} is not one of the flag's variants")
    props = raw.get("properties", [])
    if not isinstance(props, list):
        raise FlagsFileError(f"{where}.properties: must be a list of property filters")
    return {
        "properties": [_property(f"{where}.properties[{i}]", p) for i, p in enumerate(props)],
        "rollout_percentage": rollout,
        "variant": variant,
    }


def _property(where: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FlagsFileError(f"{where}: a property filter must be an object")
    unknown = sorted(set(raw) - _PROPERTY_FIELDS)
    if unknown:
        known = _known(_PROPERTY_FIELDS)
        raise FlagsFileError(f"{where}.{unknown[0]}: unknown field (known: {known})")
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise FlagsFileError(f"{where}.key: a non-empty string is required")
    if raw.get("type", "person") != "person":
        raise FlagsFileError(f"{where}.type: only 'person' (use a raw local_evaluation file)")
    operator = raw.get("operator", "exact")
    if operator not in ("is_set", "is_not_set") and "value" not in raw:
        raise FlagsFileError(f"{where}.value: required by operator {operator!r}")
    prop = {"key": key, "value": raw.get("value"), "operator": operator, "type": "person"}
    if operator in ("regex", "not_regex"):
        try:
            re.compile(str(raw.get("value")))
        except re.error as exc:
            raise FlagsFileError(f"{where}.value: not a valid regex ({exc})") from exc
    _, problem = compile_property_checked(prop, 1)
    if problem is not None:
        raise FlagsFileError(f"{where}.operator: {problem}")
    return prop


def _payloads(where: str, raw: Any, variants: Mapping[str, float]) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise FlagsFileError(f"{where}: must be an object of value -> JSON payload")
    allowed = set(variants) if variants else {"true"}
    payloads = {}
    for name, payload in raw.items():
        if name not in allowed:
            raise FlagsFileError(
                f"{where}[{name!r}]: not a value of the flag (expected {_known(allowed)})"
            )
        # PostHog's definitions carry each payload as JSON text.
        try:
            payloads[name] = json.dumps(payload, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise FlagsFileError(f"{where}[{name!r}]: not a JSON value ({exc})") from exc
    return payloads


def _known(names: set[str] | frozenset[str]) -> str:
    return ", ".join(sorted(names))
