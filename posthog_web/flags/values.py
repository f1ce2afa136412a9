"""Value coercions PostHog's flag matching uses: strings, numbers, dates, versions.

Each helper raises :class:`Undecided` with the reason naming whose value was unusable:
``UNSUPPORTED_DEFINITION`` for a value from a definition, ``MISSING_CONTEXT`` for one
the call passed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any

from posthog_web.flags.reasons import Undecided

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RELATIVE = re.compile(r"^-?(?P<number>[0-9]+)(?P<interval>[a-z])$")
_YEAR = re.compile(r"\d{4}")
_OFFSET_AFTER_SPACE = re.compile(r" ([+-]\d{2}:\d{2})$")
UTC = dt.timezone.utc


def _float_text(value: float, reason: str) -> str:
    # The flags service writes floats the way serde_json does.
    if not math.isfinite(value):
        raise Undecided(reason)
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent_text = text.split("e")
    exponent = int(exponent_text)
    if -6 < exponent < 0:
        return format(Decimal(text), "f")
    return f"{mantissa}e{'+' if exponent >= 0 else ''}{exponent}"


def json_text(value: Any, reason: str) -> str:
    """The compact JSON text the flags service compares (keys sorted)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, reason)
    if isinstance(value, list):
        return "[" + ",".join(json_text(item, reason) for item in value) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise Undecided(reason)
        items = (
            f"{json.dumps(key, ensure_ascii=False)}:{json_text(value[key], reason)}"
            for key in sorted(value)
        )
        return "{" + ",".join(items) + "}"
    raise Undecided(reason)


def as_text(value: Any, reason: str) -> str:
    """A string as itself, anything else as its JSON text."""
    return value if isinstance(value, str) else json_text(value, reason)


def ascii_lower(text: str) -> str:
    """Lower-case ASCII letters only (what icontains and friends compare)."""
    return text.translate(_ASCII_LOWER)


def is_boolish(value: Any) -> bool:
    """True, False, "true"/"false" in any case, or a list made only of those."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.lower() in ("true", "false")
    if isinstance(value, list):
        return all(is_boolish(item) for item in value)
    return False


def truthy(value: Any) -> bool:
    """The legacy truthiness of exact matching."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower() == "true"
    if isinstance(value, list):
        return all(truthy(item) for item in value)
    return False


def number(value: Any) -> float | None:
    """A finite float, or None (bools and non-decimal strings are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return None
    if isinstance(value, str) and not _NUMERIC.fullmatch(value):
        return None
    try:
        parsed = float(value)
    except (ValueError, OverflowError):
        return None
    return parsed if math.isfinite(parsed) else None


# Dates ---------------------------------------------------------------------------


def parse_datetime(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """An ISO 8601 string (``Z`` and `` UTC`` accepted) or a 4-digit year, as a datetime
    (naive when the text has no offset); raises ValueError."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif text.upper().endswith(" UTC"):
        text = text[:-4] + "+00:00"
    elif _YEAR.fullmatch(text):
        today = now or dt.datetime.now()
        return dt.datetime(int(text), today.month, today.day)
    return dt.datetime.fromisoformat(_OFFSET_AFTER_SPACE.sub(r"\1", text))


def aware(value: dt.datetime) -> dt.datetime:
    """Naive datetimes count as UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _minus_months(moment: dt.datetime, months: int) -> dt.datetime | None:
    current = moment.year * 12 + moment.month - 1
    target = current - months
    year, month = target // 12, target % 12 + 1
    if not 1 <= year <= 9999:
        return None
    # Clamp the day one month at a time: March 31 minus two months is January 28.
    day = moment.day
    for index in range(current - 1, target - 1, -1):
        if day <= 28:
            break
        day = min(day, calendar.monthrange(index // 12, index % 12 + 1)[1])
    return moment.replace(year=year, month=month, day=day)


def _minus_years(moment: dt.datetime, years: int) -> dt.datetime | None:
    year = moment.year - years
    if not 1 <= year <= 9999:
        return None
    day = 28 if years > 0 and (moment.month, moment.day) == (2, 29) else moment.day
    return moment.replace(year=year, day=day)


class DateFilter:
    """A date filter value parsed once; relative forms resolve against the clock."""

    __slots__ = ("absolute", "amount", "text", "unit")

    def __init__(self, text: str) -> None:
        self.text = text
        self.absolute: dt.datetime | None = None
        self.unit = ""
        self.amount = 0
        match = _RELATIVE.search(text)
        if match and int(match.group("number")) < 10_000 and match.group("interval") in "hdwmy":
            self.unit, self.amount = match.group("interval"), int(match.group("number"))
        elif not _YEAR.fullmatch(text.strip()):
            # An invalid absolute filter raises here, at load: the flag is unsupported.
            self.absolute = aware(parse_datetime(text))
        self.resolve()

    def resolve(self) -> dt.datetime:
        """The filter's moment now; raises Undecided for a value that cannot be one."""
        if self.absolute is not None:
            return self.absolute
        moment: dt.datetime | None
        if not self.unit:
            try:
                moment = aware(parse_datetime(self.text))
            except ValueError:
                raise Undecided("unsupported_definition") from None
            return moment
        now = dt.datetime.now(UTC)
        if self.unit == "h":
            moment = now - dt.timedelta(hours=self.amount)
        elif self.unit == "d":
            moment = now - dt.timedelta(days=self.amount)
        elif self.unit == "w":
            moment = now - dt.timedelta(weeks=self.amount)
        elif self.unit == "m":
            moment = _minus_months(now, self.amount)
        else:
            moment = _minus_years(now, self.amount)
        if moment is None:
            raise Undecided("unsupported_definition")
        return moment


# Versions ------------------------------------------------------------------------

Version = tuple[int, int, int]


def _identifier(part: str) -> int:
    # Semver 2.0.0 §2: no leading zeros.
    if not part or not part.isdigit() or (len(part) > 1 and part[0] == "0"):
        raise ValueError(part)
    return int(part)


def parse_semver(value: Any) -> Version:
    """(major, minor, patch) of ``v1.2.3-pre+build`` style text; raises ValueError."""
    text = str(value).strip().lstrip("vV").split("-")[0].split("+")[0]
    parts = text.split(".")
    if not parts[0]:
        raise ValueError(value)
    major = _identifier(parts[0])
    minor = _identifier(parts[1]) if len(parts) > 1 and parts[1] else 0
    patch = _identifier(parts[2]) if len(parts) > 2 and parts[2] else 0
    return (major, minor, patch)


def semver_range(operator: str, value: Any) -> tuple[Version, Version]:
    """[lower, upper) of ``~x.y.z``, ``^x.y.z`` or ``x.y.*``; raises ValueError."""
    if operator == "semver_wildcard":
        cleaned = str(value).strip().lstrip("vV").replace("*", "").rstrip(".")
        parts = [int_part for int_part in cleaned.split(".") if int_part]
        if not parts:
            raise ValueError(value)
        numbers = [_identifier(part) for part in parts[:3]]
        if len(numbers) == 1:
            return (numbers[0], 0, 0), (numbers[0] + 1, 0, 0)
        if len(numbers) == 2:
            return (numbers[0], numbers[1], 0), (numbers[0], numbers[1] + 1, 0)
        return (numbers[0], numbers[1], numbers[2]), (numbers[0], numbers[1], numbers[2] + 1)
    major, minor, patch = parse_semver(str(value))
    if operator == "semver_tilde":
        return (major, minor, patch), (major, minor + 1, 0)
    if major > 0:
        return (major, minor, patch), (major + 1, 0, 0)
    if minor > 0:
        return (major, minor, patch), (0, minor + 1, 0)
    return (major, minor, patch), (0, 0, patch + 1)
