"""The sender's counters: what was sent, retried, spooled, resent and dropped, by reason."""

from __future__ import annotations

import collections
import threading

DROP_REASONS = (
    "queue_full",
    "rejected",
    "oversized",
    "unencodable",
    "retries",
    "shutdown",
    "shut_down",
    "spool_full",
    "before_send",
)
COUNTED = ("sent", "retried", "spooled", "resent", *(f"dropped_{r}" for r in DROP_REASONS))


class Counters:
    """Thread-safe counts, shared by the parts of one sender (the callers count drops too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()

    def add(self, key: str, amount: int = 1) -> int:
        """Add ``amount`` to ``key``; returns the new total."""
        with self._lock:
            self._counts[key] += amount
            return self._counts[key]

    def __getitem__(self, key: str) -> int:
        return self._counts[key]

    def stats(self, pending: int, dequeued: int) -> dict[str, int]:
        """Every counter (zero when never counted), with ``pending``, ``queued`` and ``dropped``."""
        with self._lock:
            counts = dict(self._counts)
        counts["pending"] = pending
        counts["queued"] = dequeued + pending
        for key in COUNTED:
            counts.setdefault(key, 0)
        counts["dropped"] = sum(v for k, v in counts.items() if k.startswith("dropped_"))
        return counts
