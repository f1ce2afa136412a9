"""Medians, spreads and markdown tables: every figure is a median of interleaved rounds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """``min-max`` of ``values`` with one decimal."""
    if not values:
        return "-"
    return f"{min(values):.1f}-{max(values):.1f}"


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is not positive."""
    if denominator != denominator or denominator <= 0:
        return float("nan")
    return numerator / denominator


def fmt(value: float, digits: int = 1, suffix: str = "") -> str:
    """A number for a table cell; ``-`` for NaN."""
    if value != value:
        return "-"
    return f"{value:.{digits}f}{suffix}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
