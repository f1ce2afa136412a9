"""What PostHog's error tracking (cymbal) makes of an ``$exception`` event.

The shapes it parses, its Python in_app rules and the inputs of its fingerprint come from
docs (errors-groups.md A.1 and A.3). The inbox keeps every ``$exception`` it accepts, as
capture does; an event cymbal could not parse gets ``$cymbal_errors`` (the warnings the
PostHog UI shows as "This event didn't include any exception data"), a parsed one gets
the output properties cymbal writes. Hashes are SHA-512 over the same inputs, not
byte-for-byte cymbal's.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Mapping
from typing import Any

EXCEPTION_EVENT = "$exception"
LEVELS = frozenset({"fatal", "error", "warning", "log", "info", "debug"})
PLATFORMS = frozenset(
    {
        "python",
        "ruby",
        "web:javascript",
        "node:javascript",
        "go",
        "php",
        "hermes",
        "java",
        "dart",
        "apple",
        "native",
        "custom",
        "javascript",
    }
)
#: Properties cymbal writes, and strips when a client sends them.
OUTPUT_PROPERTIES = (
    "$exception_proposed_fingerprint",
    "$exception_fingerprint_record",
    "$exception_issue_id",
    "$exception_handled",
    "$exception_types",
    "$exception_values",
    "$exception_sources",
    "$exception_functions",
    "$exception_releases",
    "$cymbal_errors",
)
_U32 = 2**32 - 1
_PACKAGES_RE = re.compile(r"/(site|dist)-packages/")
_STDLIB_RE = re.compile(r"/lib/python\d(\.\d+)?/")


def exception_problems(properties: Mapping[str, Any]) -> list[str]:
    """Why cymbal would not parse these ``$exception`` properties; empty when it would."""
    problems: list[str] = []
    exceptions = properties.get("$exception_list")
    if exceptions is None:
        return ["missing field `$exception_list`"]
    if not isinstance(exceptions, list):
        return ["`$exception_list` is not an array"]
    if not exceptions:
        return ["Empty exception list"]
    level = properties.get("$exception_level")
    if level is not None and (not isinstance(level, str) or level not in LEVELS):
        problems.append(f"`$exception_level` {str(level)[:40]!r} is not one of {sorted(LEVELS)}")
    for index, exception in enumerate(exceptions):
        problems.extend(_exception_problems(exception, f"$exception_list[{index}]"))
    return problems


def _exception_problems(exception: Any, where: str) -> list[str]:
    if not isinstance(exception, dict):
        return [f"{where} is not an object"]
    problems = []
    if not isinstance(exception.get("type"), str):
        problems.append(f"{where}.type is missing or not a string")
    problems += _typed(exception, where, {"value": str, "module": str, "thread_id": int})
    mechanism = exception.get("mechanism")
    if mechanism is not None:
        if isinstance(mechanism, dict):
            fields = {"handled": bool, "type": str, "source": str, "synthetic": bool}
            problems += _typed(mechanism, f"{where}.mechanism", fields)
        else:
            problems.append(f"{where}.mechanism is not an object")
    stacktrace = exception.get("stacktrace")
    if stacktrace is not None:
        problems += _stacktrace_problems(stacktrace, f"{where}.stacktrace")
    return problems


def _stacktrace_problems(stacktrace: Any, where: str) -> list[str]:
    if not isinstance(stacktrace, dict):
        return [f"{where} is not an object"]
    if stacktrace.get("type") not in ("raw", "resolved"):
        return [f"{where}.type must be 'raw' or 'resolved'"]
    frames = stacktrace.get("frames")
    if not isinstance(frames, list):
        return [f"{where}.frames is not an array"]
    problems = []
    for index, frame in enumerate(frames):
        problems += _frame_problems(frame, f"{where}.frames[{index}]")
    return problems


def _frame_problems(frame: Any, where: str) -> list[str]:
    if not isinstance(frame, dict):
        return [f"{where} is not an object"]
    platform = frame.get("platform")
    if not isinstance(platform, str) or platform not in PLATFORMS:
        return [f"{where}.platform {str(platform)[:40]!r} is unknown"]
    if platform != "python":
        return []
    problems = [
        f"{where}.{name} is missing or not a string"
        for name in ("filename", "function")
        if not isinstance(frame.get(name), str)
    ]
    fields = {
        "abs_path": str,
        "module": str,
        "lineno": int,
        "context_line": str,
        "in_app": bool,
        "synthetic": bool,
        "code_variables": dict,
    }
    problems += _typed(frame, where, fields)
    lineno = frame.get("lineno")
    if isinstance(lineno, int) and not 0 <= lineno <= _U32:
        problems.append(f"{where}.lineno is out of range")
    for name in ("pre_context", "post_context"):
        lines = frame.get(name)
        if lines is not None and (
            not isinstance(lines, list) or not all(isinstance(line, str) for line in lines)
        ):
            problems.append(f"{where}.{name} is not an array of strings")
    return problems


def _typed(value: dict[str, Any], where: str, fields: Mapping[str, type]) -> list[str]:
    problems = []
    for name, expected in fields.items():
        item = value.get(name)
        if item is None:
            continue
        wrong_bool = expected is int and isinstance(item, bool)
        if wrong_bool or not isinstance(item, expected):
            problems.append(f"{where}.{name} is not {_kind(expected)}")
    return problems


def _kind(expected: type) -> str:
    return {str: "a string", int: "an integer", bool: "a boolean", dict: "an object"}[expected]


def process_exception(properties: dict[str, Any]) -> None:
    """Write what cymbal would into an ``$exception`` event's ``properties`` (in place)."""
    manual = properties.get("$exception_fingerprint")
    for name in OUTPUT_PROPERTIES:
        properties.pop(name, None)
    problems = exception_problems(properties)
    if problems:
        properties.pop("$exception_fingerprint", None)
        properties["$cymbal_errors"] = problems[:20]
        return
    exceptions: list[dict[str, Any]] = properties["$exception_list"]
    proposed = fingerprint(exceptions)
    properties["$exception_proposed_fingerprint"] = proposed
    if isinstance(manual, str) and manual:
        properties["$exception_fingerprint"] = (
            manual if len(manual) <= 64 else hashlib.sha512(manual.encode()).hexdigest()
        )
    else:
        properties["$exception_fingerprint"] = proposed
    handled = properties.get("$exception_handled")
    if not isinstance(handled, bool):
        handled = (exceptions[0].get("mechanism") or {}).get("handled") is True
    properties["$exception_handled"] = handled
    properties["$exception_types"] = [e["type"] for e in exceptions]
    properties["$exception_values"] = [e.get("value") or "" for e in exceptions]
    in_app = [frame for e in exceptions for frame in _frames(e) if is_in_app(frame)]
    properties["$exception_sources"] = _unique(str(f.get("filename")) for f in in_app)
    properties["$exception_functions"] = _unique(str(f.get("function")) for f in in_app)


def fingerprint(exceptions: list[dict[str, Any]]) -> str:
    """Cymbal's grouping inputs: each type, the message only without a stack, and the
    in-app frames' filename, module and function (else the first frame's)."""
    digest = hashlib.sha512()
    for exception in exceptions:
        digest.update(str(exception["type"]).encode())
        frames = _frames(exception)
        if not frames:
            digest.update(str(exception.get("value") or "").encode())
            continue
        counted = [frame for frame in frames if is_in_app(frame)] or frames[:1]
        for frame in counted:
            for name in ("filename", "module", "function"):
                digest.update(str(frame.get(name) or "").encode())
    return digest.hexdigest()


def is_in_app(frame: Mapping[str, Any]) -> bool:
    """A Python frame's in_app after cymbal's demotions (absent counts as true)."""
    if frame.get("in_app") is False:
        return False
    if frame.get("platform") != "python":
        return frame.get("in_app") is not False
    paths = [str(frame.get(name) or "").replace("\\", "/") for name in ("abs_path", "filename")]
    for path in paths:
        if _PACKAGES_RE.search(path) or _STDLIB_RE.search(path) or path.startswith("<frozen"):
            return False
    if not any(paths):
        top = str(frame.get("module") or "").split(".")[0]
        return top not in sys.stdlib_module_names
    return True


def _frames(exception: Mapping[str, Any]) -> list[dict[str, Any]]:
    stacktrace = exception.get("stacktrace")
    if not isinstance(stacktrace, dict):
        return []
    frames = stacktrace.get("frames")
    return frames if isinstance(frames, list) else []


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(values))
