"""The flood limit: a token bucket per fingerprint, per minute, per process."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable

_gates: weakref.WeakSet[FloodGate] = weakref.WeakSet()


class _Bucket:
    __slots__ = ("suppressed", "tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.updated = now
        self.suppressed = 0


class FloodGate:
    """Lets at most ``per_minute`` events of one fingerprint through per minute.

    A burst may spend the whole bucket at once; it refills at ``per_minute`` per 60
    seconds. Events held back are counted, and :meth:`admit` hands the count to the next
    event of that fingerprint let through. Only ``max_fingerprints`` buckets are kept
    (the least recently used is forgotten, with its count).
    """

    def __init__(
        self,
        per_minute: int,
        max_fingerprints: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._max = max_fingerprints
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()
        _gates.add(self)

    def _after_fork(self) -> None:
        # Per process: a forked worker starts with full buckets and a lock nobody holds.
        self._buckets = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, fingerprint: str) -> int | None:
        """None if this event is held back; else how many were held back before it."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(fingerprint)
            if bucket is None:
                bucket = self._buckets[fingerprint] = _Bucket(self._capacity, now)
                if len(self._buckets) > self._max:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(fingerprint)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._rate)
                bucket.updated = now
            if bucket.tokens < 1.0:
                bucket.suppressed += 1
                return None
            bucket.tokens -= 1.0
            suppressed, bucket.suppressed = bucket.suppressed, 0
            return suppressed

    def __len__(self) -> int:
        return len(self._buckets)


def _reset_after_fork() -> None:
    for gate in list(_gates):
        gate._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
