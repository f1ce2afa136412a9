"""What the inbox's pages show of an API key: only a masked form, also inside event JSON."""

from __future__ import annotations

from typing import Any


def mask_key(key: str) -> str:
    """A short masked form of an API key, e.g. ``phc_…ab12``."""
    return f"{key[:4]}…{key[-4:]}" if len(key) > 10 else "…"


def masked_event(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with its API key masked wherever the key appears as a value."""
    key = event.get("api_key")
    if not isinstance(key, str) or not key:
        return event
    result: dict[str, Any] = _masked(event, key, mask_key(key))
    return result


def _masked(value: Any, key: str, masked: str) -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, key, masked) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key, masked) for v in value]
    return masked if value == key and isinstance(value, str) else value
