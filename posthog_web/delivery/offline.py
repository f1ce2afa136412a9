"""The offline state machine: when to write batches to the spool and when to send them again.

Online, live batches get the whole retry budget and the spool is looked at every few
seconds for batches other processes left. Offline (the budget ran out), batches go
straight to the spool and only the oldest spooled batch is tried, with backoff, until
PostHog answers; then the spool is sent again, oldest first, between live batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time

from posthog_web.delivery.counters import Counters
from posthog_web.delivery.options import DeliveryOptions
from posthog_web.delivery.retry import Attempt, Poster, Stopping, backoff, drop, retryable
from posthog_web.delivery.spool import Claim, Spool

logger = logging.getLogger(__name__)

#: While offline, the oldest spooled batch is tried again after at most this long.
PROBE_CAP = 10.0
#: How often an online sender looks for batches other processes left in the spool.
SPOOL_SCAN_INTERVAL = 5.0

_SPOOL_WHY = {
    "retries": "PostHog did not take them within the retry budget",
    "shutdown": "the process is stopping",
}


class Spooling:
    """One sender's spool (opened on first use) and whether PostHog is taken to be offline.

    ``wake`` is set when more spooled batches may go at once.
    """

    def __init__(
        self,
        options: DeliveryOptions,
        counters: Counters,
        poster: Poster,
        stopping: Stopping,
        wake: threading.Event,
    ) -> None:
        self._options = options
        self._counters = counters
        self._poster = poster
        self._stopping = stopping
        self._wake = wake
        self._lock = threading.Lock()
        self.spool: Spool | None = None
        self._opened = False
        self.offline = False
        self._probe_at = 0.0
        self._probe_failures = 0
        self._check_at = 0.0

    def open(self) -> Spool | None:
        """The spool, opened on first use (in the sender thread, or at exit)."""
        if self._options.spool_dir is None:
            return None
        with self._lock:
            if self._opened:
                return self.spool
            self._opened = True
        path = os.path.join(self._options.spool_dir, _namespace(self._options))
        spool = Spool(path, self._options.spool_max_bytes)
        try:
            spool.open()
        except OSError as exc:
            logger.error(
                "posthog-web cannot use the spool %s (%s); events that cannot be delivered "
                "will be dropped",
                path,
                exc,
            )
            return None
        self.spool = spool
        return spool

    def skips_attempts(self) -> bool:
        """Offline with a spool: live batches go to the spool without an attempt."""
        return self.offline and self.spool is not None

    def idle_wait(self, wait: float) -> float:
        """How long the sender thread may sleep: at most ``wait``, less when a probe is due."""
        if self.spool is not None and self.offline:
            wait = min(wait, max(0.01, self._probe_at - time.monotonic()))
        return wait

    def write(self, batch: list[bytes], reason: str, *, count: bool = True) -> int:
        """Write ``batch`` to the spool; the number of events handled (0: not at all)."""
        spool = self.spool
        if spool is None:
            return 0
        try:
            result = spool.write(batch)
        except OSError as exc:
            logger.error(
                "posthog-web could not write %d event(s) to the spool: %s", len(batch), exc
            )
            return 0
        if result.written and count:
            self._counters.add("spooled", result.written)
            logger.info(
                "posthog-web spooled %d event(s) (%s)",
                result.written,
                _SPOOL_WHY.get(reason, reason),
            )
        if result.dropped:
            self._counters.add("dropped_spool_full", result.dropped)
            logger.warning(
                "posthog-web dropped %d spooled event(s), oldest first: the spool is over "
                "spool_max_bytes (%d)",
                result.dropped,
                spool.max_bytes,
            )
        return len(batch)

    def write_or_drop(self, batch: list[bytes], reason: str, attempt: Attempt | None) -> None:
        """Spool a batch that cannot be delivered now; drop it (``reason``) without a spool."""
        if self.write(batch, reason) == 0:
            drop(self._counters, len(batch), reason, attempt)

    def go_offline(self, attempt: Attempt) -> None:
        """A live batch used up its retry budget: spool from now on, and probe."""
        if not self.offline:
            logger.warning(
                "posthog-web: PostHog did not take a batch within the retry budget (%s); "
                "events go to the spool until it answers again",
                attempt.error or f"PostHog answered {attempt.status}",
            )
        self.offline = True
        self._probe_failures = 0
        self._probe_at = time.monotonic() + self._probe_delay(attempt.retry_after)

    def now_online(self) -> None:
        """PostHog took a batch: live batches get attempts again, the spool is looked at."""
        if self.spool is None:
            return
        if self.offline:
            logger.warning("posthog-web: PostHog answers again; sending the spooled events")
        self.offline = False
        self._probe_failures = 0
        self._check_at = 0.0

    def _probe_delay(self, retry_after: float) -> float:
        return backoff(self._options.retry_base_delay, self._probe_failures, PROBE_CAP, retry_after)

    def work(self, stopping: bool) -> None:
        """Send the oldest spooled batch if it is time; one per call, between live batches."""
        spool = self.spool
        if spool is None or self._stopping.evacuating or stopping:
            return
        now = time.monotonic()
        if now < (self._probe_at if self.offline else self._check_at):
            return
        try:
            claim = spool.claim()
        except OSError as exc:
            logger.error("posthog-web could not read the spool: %s", exc)
            claim = None
        if claim is None:
            # Nothing left that is ours to send: live batches get normal attempts again.
            self.offline = False
            self._check_at = now + SPOOL_SCAN_INTERVAL
            return
        if self._resend(claim):
            # More may wait: the sender loop comes straight back (live events first).
            self._check_at = 0.0
            self._wake.set()

    def _resend(self, claim: Claim) -> bool:
        """One attempt at a spooled batch; True when the next one may go at once."""
        events = claim.events
        attempt = self._poster.post(events, in_sender=True, max_retries=0)
        if attempt.ok:
            claim.done()
            self._counters.add("resent", len(events))
            self.now_online()
            return True
        status = attempt.status
        if status == 413 and len(events) > 1:
            middle = len(events) // 2
            for half in (events[:middle], events[middle:]):
                if not self.write(half, "split", count=False):
                    drop(self._counters, len(half), "retries", attempt)
            claim.done()
            return True
        if status is not None and (status == 413 or not retryable(status)):
            claim.done()
            drop(self._counters, len(events), "rejected", attempt)
            return True
        claim.release()
        self.offline = True
        self._probe_failures += 1
        self._probe_at = time.monotonic() + self._probe_delay(attempt.retry_after)
        logger.info(
            "posthog-web: spooled events not sent yet (%s); next try in %.1f s",
            attempt.error,
            self._probe_at - time.monotonic(),
        )
        return False


def _namespace(options: DeliveryOptions) -> str:
    # One directory per project and host: apps sharing a spool_dir never send each
    # other's events.
    digest = hashlib.sha256(f"{options.api_key}\n{options.batch_url}".encode()).hexdigest()
    return f"project-{digest[:16]}"
