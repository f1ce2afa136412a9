"""Signal receivers (placeholder, completed below)."""

from __future__ import annotations


def connect() -> None:
    pass
