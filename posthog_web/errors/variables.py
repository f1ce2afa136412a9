"""Opt-in code variables: capped, masked reprs of an in-app frame's locals."""

from __future__ import annotations

import math
import reprlib
from types import FrameType, FunctionType, ModuleType
from typing import Any

from posthog_web.errors.masking import MASK, mask_text
from posthog_web.errors.options import DEFAULT_MASKED_NAMES

_SKIPPED_TYPES = (ModuleType, FunctionType, type)


class VariableBudget:
    """The characters of variables one event may still carry."""

    __slots__ = ("left",)

    def __init__(self, total: int) -> None:
        self.left = total


class VariableReader:
    """Reads a frame's locals into ``code_variables`` under the configured caps."""

    def __init__(self, extra_masked: tuple[str, ...], max_chars: int) -> None:
        self._masked = tuple(DEFAULT_MASKED_NAMES) + extra_masked
        self._max_chars = max_chars
        self._repr = reprlib.Repr()
        self._repr.maxstring = max_chars
        self._repr.maxother = max_chars
        self._repr.maxlevel = 3
        for name in ("maxlist", "maxtuple", "maxdict", "maxset", "maxfrozenset", "maxdeque"):
            setattr(self._repr, name, 20)

    def is_masked(self, name: str) -> bool:
        """Whether a variable called ``name`` is secret-looking."""
        lowered = name.lower()
        return any(fragment in lowered for fragment in self._masked)

    def read(self, frame: FrameType, budget: VariableBudget) -> dict[str, Any] | None:
        """The frame's variables by name (sorted), or None when there are none to send."""
        if budget.left <= 0:
            return None
        try:
            names = sorted(name for name in frame.f_locals if isinstance(name, str))
            f_locals = frame.f_locals
        except Exception:  # a frame's locals are foreign objects; take none of them
            return None
        out: dict[str, Any] = {}
        for name in names:
            if name.startswith("__"):
                continue
            value = f_locals.get(name)
            if isinstance(value, _SKIPPED_TYPES):
                continue
            shown = MASK if self.is_masked(name) else self._show(value)
            cost = len(name) + (len(shown) if isinstance(shown, str) else 8)
            if cost > budget.left:
                budget.left = 0
                break
            budget.left -= cost
            out[name] = shown
        return out or None

    def _show(self, value: object) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int) and abs(value) < 2**53:
            return value
        if isinstance(value, float) and math.isfinite(value):
            return value
        try:
            text = self._repr.repr(value)
        except Exception as exc:  # reprlib guards instances, not every container
            text = f"<repr failed: {type(exc).__name__}>"
        if len(text) > self._max_chars:
            text = text[: self._max_chars - 1] + "…"
        return mask_text(text)
