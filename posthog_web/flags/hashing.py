"""PostHog's bucketing hash: the first 15 hex digits of a SHA-1, scaled to [0, 1]."""

from __future__ import annotations

import hashlib
import struct

_SCALE = float(0xFFFFFFFFFFFFFFF)
_sha1 = hashlib.sha1
# The first 8 bytes of the digest as a big-endian integer: faster than int.from_bytes.
_first_8_bytes = struct.Struct(">Q").unpack_from


# Recent hashes: a visitor's next request reads the same flags, so a SHA-1 (about half
# a local evaluation) becomes a dict lookup. The hash is a pure function of the text, so
# a stale entry cannot exist; bounded by starting over when full (about 2.5 MB at most).
_RECENT: dict[str, float] = {}
_RECENT_MAX = 16_384


def hash_text(text: str) -> float:
    """The hash of an already joined ``key.value[salt]`` string."""
    value = _RECENT.get(text)
    if value is None:
        # The first 8 bytes shifted right by 4 bits are the first 15 hex digits.
        first: int = _first_8_bytes(_sha1(text.encode()).digest())[0]
        value = (first >> 4) / _SCALE
        if len(_RECENT) >= _RECENT_MAX:
            _RECENT.clear()  # a race only hashes a text twice
        _RECENT[text] = value
    return value


def bucket(key: str, value: object, salt: str = "") -> float:
    """``hash(f"{key}.{value}{salt}")``: rollouts use no salt, variants ``"variant"``."""
    return hash_text(f"{key}.{value}{salt}")


def holdout_bucket(value: object) -> float:
    """The holdout hash: ``holdout-<value>``, joined with a dash and no flag key."""
    return hash_text(f"holdout-{value}")
