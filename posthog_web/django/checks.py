"""System checks (placeholder, completed below)."""

from __future__ import annotations


def register() -> None:
    pass
