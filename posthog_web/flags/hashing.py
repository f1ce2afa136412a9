"""PostHog's bucketing hash: the first 15 hex digits of a SHA-1, scaled to [0, 1]."""

from __future__ import annotations

import hashlib

_SCALE = float(0xFFFFFFFFFFFFFFF)
_sha1 = hashlib.sha1


def hash_text(text: str) -> float:
    """The hash of an already joined ``key.value[salt]`` string."""
    # The first 8 bytes shifted right by 4 bits are the first 15 hex digits.
    return (int.from_bytes(_sha1(text.encode()).digest()[:8], "big") >> 4) / _SCALE


def bucket(key: str, value: object, salt: str = "") -> float:
    """``hash(f"{key}.{value}{salt}")``: rollouts use no salt, variants ``"variant"``."""
    return hash_text(f"{key}.{value}{salt}")


def holdout_bucket(value: object) -> float:
    """The holdout hash: ``holdout-<value>``, joined with a dash and no flag key."""
    digest = hashlib.sha1(f"holdout-{value}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 4) / _SCALE
