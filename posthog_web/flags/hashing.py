"""PostHog's bucketing hash: the first 15 hex digits of a SHA-1, scaled to [0, 1]."""

from __future__ import annotations

import hashlib

_SCALE = float(0xFFFFFFFFFFFFFFF)


def bucket(key: str, value: object, salt: str = "") -> float:
    """``hash(f"{key}.{value}{salt}")``: rollouts use no salt, variants ``"variant"``."""
    digest = hashlib.sha1(f"{key}.{value}{salt}".encode()).digest()
    # The first 8 bytes shifted right by 4 bits are the first 15 hex digits.
    return (int.from_bytes(digest[:8], "big") >> 4) / _SCALE


def holdout_bucket(value: object) -> float:
    """The holdout hash: ``holdout-<value>``, joined with a dash and no flag key."""
    digest = hashlib.sha1(f"holdout-{value}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 4) / _SCALE
