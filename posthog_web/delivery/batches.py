"""Delivering one batch: post it, and on failure split it (413), drop it (refused) or spool it.

The batch being posted is held here as in flight, so that a process stopping meanwhile
can take it over and spool it (:meth:`BatchDelivery.take_over`).
"""

from __future__ import annotations

import logging
import threading

from posthog_web.delivery.counters import Counters
from posthog_web.delivery.encoding import Batch
from posthog_web.delivery.offline import Spooling
from posthog_web.delivery.retry import Poster, Stopping, drop, retryable

logger = logging.getLogger(__name__)


class BatchDelivery:
    """Posts batches in the sender thread and settles what could not be delivered."""

    def __init__(
        self, poster: Poster, spooling: Spooling, counters: Counters, stopping: Stopping
    ) -> None:
        self._poster = poster
        self._spooling = spooling
        self._counters = counters
        self._stopping = stopping
        self._lock = threading.Lock()
        self._inflight: Batch | None = None

    def in_flight(self) -> int:
        """How many events the batch being posted holds (0: none)."""
        inflight = self._inflight
        return inflight.count if inflight else 0

    def take_over(self) -> Batch | None:
        """Mark the sender as evacuating and take the batch being posted, if any."""
        with self._lock:
            self._stopping.evacuating = True
            inflight, self._inflight = self._inflight, None
        return inflight

    def deliver(self, batch: Batch) -> bool:
        """Post ``batch``; True when PostHog took all of it."""
        spooling = self._spooling
        if spooling.skips_attempts():
            spooling.write_or_drop(batch.events(), "retries", None)
            return False
        with self._lock:
            evacuating = self._stopping.evacuating
            if not evacuating:
                self._inflight = batch
        if evacuating:
            spooling.write_or_drop(batch.events(), "shutdown", None)
            return False
        try:
            attempt = self._poster.post(batch.parts, in_sender=True, events=batch.count)
        finally:
            with self._lock:
                mine = self._inflight is batch
                self._inflight = None
        if attempt.ok:
            spooling.now_online()
            return True
        if not mine:
            return False  # taken over by take_over(), whose caller spooled it
        if attempt.status == 413:
            return self._split(batch.events())
        if attempt.status is not None and not retryable(attempt.status):
            drop(self._counters, batch.count, "rejected", attempt)
            return False
        if not attempt.gave_up_at_deadline and spooling.spool is not None:
            spooling.go_offline(attempt)
        reason = "shutdown" if attempt.gave_up_at_deadline else "retries"
        spooling.write_or_drop(batch.events(), reason, attempt)
        return False

    def _split(self, events: list[bytes]) -> bool:
        if len(events) == 1:
            self._counters.add("dropped_rejected")
            logger.error("posthog-web dropped one event PostHog refused as too large (413)")
            return False
        middle = len(events) // 2
        first = self.deliver(Batch.of(events[:middle]))
        second = self.deliver(Batch.of(events[middle:]))
        return first and second
