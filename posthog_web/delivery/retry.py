"""Posting one batch: attempts, exponential backoff with jitter, ``Retry-After``, and what
each answer means (2xx sent; 408, 429 and 5xx retried; other answers refused)."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from posthog_web.delivery.counters import Counters
from posthog_web.delivery.options import DeliveryOptions
from posthog_web.delivery.transport import USER_AGENT, Transport, TransportError

logger = logging.getLogger(__name__)

RETRY_AFTER_CAP = 60.0
BACKOFF_CAP = 30.0

_REFUSAL_REASONS = {
    400: " (the batch is malformed)",
    401: " (the project API key is missing or malformed)",
    403: " (the key was refused: use the project API key, not a personal key)",
}


@dataclass(slots=True)
class Attempt:
    """The outcome of posting one batch, retries included."""

    status: int | None
    error: str | None = None
    gave_up_at_deadline: bool = False
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class Stopping:
    """How a stopping process cuts the sender thread's retries short.

    ``deadline``: retries that cannot finish before it give up; ``interrupt`` wakes a
    backoff wait; ``evacuating``: everything in memory is being written to the spool.
    """

    deadline: float | None = None
    interrupt: threading.Event = field(default_factory=threading.Event)
    evacuating: bool = False


class Poster:
    """POSTs batches to ``/batch/`` with retries, in the sender thread or in sync mode."""

    def __init__(
        self,
        options: DeliveryOptions,
        transport: Transport,
        body: Callable[[list[bytes]], bytes],
        counters: Counters,
        stopping: Stopping,
    ) -> None:
        self._options = options
        self._transport = transport
        self._body = body
        self._counters = counters
        self._stopping = stopping
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if options.gzip:
            self._headers["Content-Encoding"] = "gzip"

    def post(
        self,
        batch: list[bytes],
        *,
        in_sender: bool = False,
        max_retries: int | None = None,
        events: int | None = None,
    ) -> Attempt:
        """POST ``batch`` with retries; returns the last status, or None with the error.

        ``events`` is how many events the parts of ``batch`` hold (default: one each).
        In the sender thread, retries stop at the shutdown/exit deadline; in sync mode
        (the caller's thread) the retry budget alone bounds them.
        """
        opts = self._options
        stopping = self._stopping
        count = len(batch) if events is None else events
        budget = opts.max_retries if max_retries is None else max_retries
        retries = 0
        while True:
            deadline = stopping.deadline if in_sender else None
            timeout = opts.timeout
            if deadline is not None:
                timeout = max(0.05, min(timeout, deadline - time.monotonic()))
            retry_after = 0.0
            try:
                response = self._transport.send(
                    opts.batch_url, self._body(batch), self._headers, timeout
                )
            except TransportError as exc:
                status: int | None = None
                error = f"no answer from {opts.batch_url} ({exc})"
            else:
                status = response.status
                if 200 <= status < 300:
                    self._counters.add("sent", count)
                    return Attempt(status)
                if not retryable(status):
                    why = _REFUSAL_REASONS.get(status, "")
                    return Attempt(status, f"PostHog answered {status}{why}")
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                error = f"PostHog answered {status}"
            if retries >= budget:
                return Attempt(status, f"{error}, after {retries + 1} attempts", False, retry_after)
            if in_sender and stopping.evacuating:
                return Attempt(status, f"{error}; stopped for exit", True)
            delay = backoff(opts.retry_base_delay, retries, BACKOFF_CAP, retry_after)
            if deadline is not None and time.monotonic() + delay > deadline:
                return Attempt(status, f"{error}; gave up at the shutdown deadline", True)
            retries += 1
            self._counters.add("retried", count)
            logger.info("posthog-web retrying %d event(s) in %.2f s: %s", count, delay, error)
            if in_sender:
                if stopping.interrupt.wait(delay):
                    stopping.interrupt.clear()
            else:
                time.sleep(delay)


def backoff(base: float, failures: int, cap: float, retry_after: float) -> float:
    """``base`` doubled per failure up to ``cap``, with jitter, and never under ``retry_after``."""
    delay = min(cap, base * 2.0**failures)
    return max(delay * random.uniform(0.5, 1.0), retry_after)


def drop(counters: Counters, count: int, reason: str, attempt: Attempt | None) -> None:
    """Count and log ``count`` events dropped for ``reason`` after ``attempt``."""
    counters.add(f"dropped_{reason}", count)
    why = "the spool could not take them"
    if attempt is not None:
        why = attempt.error or f"PostHog answered {attempt.status}"
    logger.error("posthog-web dropped %d event(s): %s", count, why)


def retryable(status: int) -> bool:
    """Whether an answer with ``status`` is worth another attempt."""
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None) -> float:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return 0.0
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 0.0
        seconds = when.timestamp() - time.time()
    if seconds != seconds:
        return 0.0
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)
