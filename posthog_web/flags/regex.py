"""PostHog's regex operator: Python ``re`` made to behave like the server's Rust engine.

The flags service uses ``fancy_regex``. Patterns are translated (``$`` is strict end of
text, ``\\Z``) and constructs on which the two engines can disagree are deferred to the
server: word boundaries, inline flags and lookarounds, nested repetition, set operations
in classes, shorthand classes as range ends, unusual escapes. A pattern Python cannot
compile is invalid: both ``regex`` and ``not_regex`` are then False, as on the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from posthog_web.flags.reasons import UNSUPPORTED_DEFINITION, Undecided

_REPEAT = re.compile(r"\{([0-9]+)(?:,([0-9]*))?\}")
_SAFE_ESCAPES = "dDsSwWbfnrt"
_CLASS_ESCAPES = "\\-[]^.$*+?(){}|"
_NO_QUANTIFIER_AFTER = ("", "|", "(", "^", "$", "empty group", "quantifier")


class Deferred(Exception):
    """The pattern must be evaluated by the server."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A translated pattern and what its match-time checks need to know."""

    regex: re.Pattern[str]
    word_class: bool
    space_class: bool
    end_anchor: bool
    repeats: bool

    def search(self, value: str) -> bool:
        """Match ``value``; raises Undecided where the engines could disagree."""
        if self.end_anchor and self.repeats and value.endswith("\n"):
            raise Undecided(UNSUPPORTED_DEFINITION)
        if not value.isascii():
            if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
                raise Undecided(UNSUPPORTED_DEFINITION)
            # Rust's \w also covers marks and joiners; Python's covers other numbers.
            if self.word_class and any(
                not c.isascii() and not (c.isalpha() or c.isdecimal()) for c in value
            ):
                raise Undecided(UNSUPPORTED_DEFINITION)
        if self.space_class and any(c in value for c in "\x1c\x1d\x1e\x1f"):
            raise Undecided(UNSUPPORTED_DEFINITION)
        return self.regex.search(value) is not None


def compile_pattern(pattern: str) -> Pattern | None:
    """The pattern translated and compiled; None when it is invalid; raises Deferred."""
    out: list[str] = []
    flags = {"word": False, "space": False, "end": False, "repeat": False}
    group_repeats: list[bool] = []
    closed_repeats = False
    previous = ""
    class_start: int | None = None
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if 0xD800 <= ord(c) <= 0xDFFF:
            raise Deferred
        if class_start is None:
            flags["end"] |= c == "$"
            flags["repeat"] |= c in "*+?{|"
            if c == "(":
                group_repeats.append(False)
            elif c == ")":
                closed_repeats = group_repeats.pop() if group_repeats else False
                if group_repeats:
                    group_repeats[-1] |= closed_repeats
            elif c in "*+?{":
                if previous == ")" and closed_repeats:
                    raise Deferred  # nested repetition
                if group_repeats:
                    group_repeats[-1] = True
        if c == "\\":
            i += 1
            if i == n:
                out.append("\\")
                break
            e = pattern[i]
            if e == "x":
                digits = pattern[i + 1 : i + 3]
                if len(digits) != 2 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                    raise Deferred
                out.append("\\x" + digits)
                i += 2
            else:
                if e in "bB<>" and class_start is None:
                    raise Deferred
                if e not in _SAFE_ESCAPES and (
                    not (0x20 <= ord(e) <= 0x7E and not e.isalnum())
                    or (class_start is not None and e not in _CLASS_ESCAPES)
                ):
                    raise Deferred
                flags["word"] |= e in "wW"
                flags["space"] |= e in "sS"
                out.append("\\" + e)
            previous = "literal"
        elif c == "[":
            if class_start is not None:
                raise Deferred
            class_start = i
            out.append(c)
        elif c == "]" and class_start is not None:
            negated = pattern[class_start + 1 : class_start + 2] == "^"
            if i == class_start + (2 if negated else 1):
                raise Deferred
            class_start = None
            previous = "literal"
            out.append(c)
        elif class_start is not None:
            if pattern[i : i + 2] in ("&&", "--", "~~"):
                raise Deferred
            if c == "-" and i + 1 < n and pattern[i + 1] != "]":
                shorthand = ("\\d", "\\D", "\\s", "\\S", "\\w", "\\W")
                if pattern[i + 1 : i + 3] in shorthand or (
                    i >= 2 and pattern[i - 2] == "\\" and pattern[i - 1] in "dDsSwW"
                ):
                    raise Deferred
            out.append(c)
        elif c == "(" and pattern[i + 1 : i + 2] == "?":
            if pattern[i + 2 : i + 3] != ":":
                raise Deferred
            out.append("(?:")
            i += 2
            previous = "("
        elif c == "{":
            repeat = _REPEAT.match(pattern, i)
            if repeat is None or previous in _NO_QUANTIFIER_AFTER:
                raise Deferred
            if any(len(g) > 10 or int(g) > 0xFFFFFFFF for g in repeat.groups() if g):
                raise Deferred
            out.append(repeat.group())
            i = repeat.end() - 1
            if pattern[i + 1 : i + 2] in ("+", "{"):
                raise Deferred
            previous = "quantifier"
        else:
            if c in "*+?":
                if previous in ("^", "$", "empty group") or pattern[i + 1 : i + 2] in ("+", "{"):
                    raise Deferred
                previous = "quantifier"
            elif c == ")" and previous in ("(", "empty group"):
                previous = "empty group"
            else:
                previous = c
            out.append("\\Z" if c == "$" else c)
        i += 1
    try:
        regex = re.compile("".join(out))
    except re.error:
        return None
    except Exception:  # recursion or overflow inside re: let the server decide
        raise Deferred from None
    return Pattern(regex, flags["word"], flags["space"], flags["end"], flags["repeat"])
