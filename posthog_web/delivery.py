"""The delivery engine: a bounded queue drained by one lazily started sender thread.

Callers only append to a deque (no lock, no I/O); the sender thread encodes, batches,
compresses, posts to ``/batch/`` and retries. See docs/delivery.md for the defaults.
"""

from __future__ import annotations

import atexit
import collections
import email.utils
import gzip
import json
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from posthog_web.events import MAX_EVENT_BYTES, encode_json, now_iso
from posthog_web.transport import USER_AGENT, Transport, TransportError

logger = logging.getLogger(__name__)

MAX_BATCH_BYTES = 5 * 1024 * 1024
RETRY_AFTER_CAP = 60.0
BACKOFF_CAP = 30.0
DROP_WARNING_INTERVAL = 10.0

Item = bytes | dict[str, Any]
DROP_REASONS = (
    "queue_full",
    "rejected",
    "oversized",
    "unencodable",
    "retries",
    "shutdown",
    "shut_down",
)


class DeliveryError(Exception):
    """Raised in sync mode when PostHog could not be reached within the retry budget."""


@dataclass(slots=True)
class _FlushMarker:
    failures_before: int
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = True


@dataclass(slots=True)
class DeliveryOptions:
    """Delivery settings, validated by :class:`posthog_web.Client`."""

    api_key: str = field(repr=False)
    batch_url: str
    gzip: bool = True
    flush_at: int = 100
    flush_interval: float = 0.5
    max_queue_size: int = 10_000
    max_batch_size: int = 1000
    max_retries: int = 6
    retry_base_delay: float = 0.5
    timeout: float = 10.0
    exit_flush_timeout: float = 5.0


@dataclass(slots=True)
class _Attempt:
    """The outcome of posting one batch, retries included."""

    status: int | None
    error: str | None = None
    gave_up_at_deadline: bool = False


class Sender:
    """Owns the queue, the sender thread and the retry policy for one client."""

    def __init__(self, options: DeliveryOptions, transport: Transport) -> None:
        self.options = options
        self.transport = transport
        self._api_key_json = json.dumps(options.api_key).encode()
        self._headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if options.gzip:
            self._headers["Content-Encoding"] = "gzip"
        self.counts: collections.Counter[str] = collections.Counter()
        self._init_process_state()
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _call_if_alive(weak_self, "_after_fork"))
        self._atexit_registered = False

    def _init_process_state(self) -> None:
        self._queue: collections.deque[Item | _FlushMarker] = collections.deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._deadline: float | None = None
        self._interrupt = threading.Event()
        self._dequeued = 0
        self._failed_batches = 0
        self._last_drop_warning = 0.0

    # Caller side -----------------------------------------------------------------

    def put(self, item: Item) -> bool:
        """Queue one event; never blocks. Returns False when it was dropped."""
        queue = self._queue
        if len(queue) >= self.options.max_queue_size or self._stopping:
            self._drop_on_put("queue_full" if not self._stopping else "shut_down")
            return False
        queue.append(item)
        if self._thread is None:
            self._start()
        elif len(queue) >= self.options.flush_at:
            self._wake.set()
        return True

    def _drop_on_put(self, reason: str) -> None:
        with self._lock:
            self.counts[f"dropped_{reason}"] += 1
            now = time.monotonic()
            if now - self._last_drop_warning < DROP_WARNING_INTERVAL:
                return
            self._last_drop_warning = now
            total = self.counts[f"dropped_{reason}"]
        logger.warning(
            "posthog-web dropped an event (%s); %d dropped for this reason so far",
            reason.replace("_", " "),
            total,
        )

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(target=self._run, name="posthog-web-sender", daemon=True)
            self._thread = thread
            if not self._atexit_registered:
                weak_self = weakref.ref(self)
                atexit.register(_call_if_alive, weak_self, "_exit_flush")
                self._atexit_registered = True
        thread.start()

    def pending(self) -> int:
        """Events accepted but not yet handled by the sender thread."""
        return sum(1 for item in list(self._queue) if not isinstance(item, _FlushMarker))

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far was delivered; False on timeout or loss."""
        if self._thread is None or not self._thread.is_alive():
            return self.pending() == 0
        marker = _FlushMarker(self._failed_batches)
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(max(timeout, 0.0)) and marker.ok

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout``, then stop the thread. Later events are dropped."""
        thread = self._thread
        deadline = time.monotonic() + max(timeout, 0.0)
        self._set_deadline(timeout)
        ok = self.flush(timeout)
        self._stopping = True
        self._wake.set()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.05)
        self.transport.close()
        return ok

    def _exit_flush(self) -> None:
        if self._thread is None or self._stopping:
            return
        left = self.pending()
        if not left:
            return
        self._set_deadline(self.options.exit_flush_timeout)
        if self.flush(self.options.exit_flush_timeout):
            return
        logger.warning(
            "posthog-web exited with %d event(s) undelivered after %.1f s",
            self.pending() or left,
            self.options.exit_flush_timeout,
        )

    def _set_deadline(self, timeout: float) -> None:
        # Retries in progress give up once they cannot finish before the deadline.
        self._deadline = time.monotonic() + max(timeout, 0.0)
        self._interrupt.set()

    def _after_fork(self) -> None:
        # The parent keeps and sends its own queue; the child starts empty.
        self._init_process_state()
        self.counts = collections.Counter()
        reset = getattr(self.transport, "reset_after_fork", None)
        if reset is not None:
            reset()

    # Sender thread ---------------------------------------------------------------

    def _run(self) -> None:
        opts = self.options
        queue = self._queue
        while True:
            if len(queue) < opts.flush_at:
                self._wake.wait(opts.flush_interval)
                self._wake.clear()
            while queue:
                try:
                    backlog = self._drain_once()
                except Exception:  # pragma: no cover - a bug must not kill delivery
                    logger.exception("posthog-web sender failed; continuing")
                    break
                if not backlog:
                    break
            if not queue and self._stopping:
                self.transport.close()
                return

    def _drain_once(self) -> bool:
        """Send one batch; True when a limit cut it short and more should go at once."""
        queue = self._queue
        batch: list[bytes] = []
        size = 0
        marker: _FlushMarker | None = None
        limited = False
        while queue:
            if len(batch) >= self.options.max_batch_size:
                limited = True
                break
            item = queue.popleft()
            if isinstance(item, _FlushMarker):
                marker = item
                break
            self._dequeued += 1
            encoded = self._encode(item)
            if encoded is None:
                continue
            if size + len(encoded) > MAX_BATCH_BYTES and batch:
                queue.appendleft(encoded)
                self._dequeued -= 1
                limited = True
                break
            batch.append(encoded)
            size += len(encoded) + 1
        if batch and not self._deliver(batch):
            self._failed_batches += 1
        if marker is not None:
            marker.ok = self._failed_batches == marker.failures_before
            marker.done.set()
        return limited or marker is not None

    def _encode(self, item: Item) -> bytes | None:
        if isinstance(item, bytes):
            return item
        try:
            encoded = encode_json(item)
        except (TypeError, ValueError) as exc:
            self._count("dropped_unencodable")
            logger.error("posthog-web dropped an event it could not encode: %s", exc)
            return None
        if len(encoded) > MAX_EVENT_BYTES:
            self._count("dropped_oversized")
            logger.error("posthog-web dropped an event of %d bytes (limit 900 KiB)", len(encoded))
            return None
        return encoded

    def _count(self, key: str, amount: int = 1) -> None:
        with self._lock:
            self.counts[key] += amount

    def _deliver(self, batch: list[bytes]) -> bool:
        attempt = self.post(batch, in_sender=True)
        if attempt.status is not None and 200 <= attempt.status < 300:
            return True
        if attempt.status == 413:
            return self._split(batch)
        if attempt.gave_up_at_deadline:
            reason = "shutdown"
        elif attempt.status is not None and not _retryable(attempt.status):
            reason = "rejected"
        else:
            reason = "retries"
        self._count(f"dropped_{reason}", len(batch))
        logger.error(
            "posthog-web dropped %d event(s): %s",
            len(batch),
            attempt.error or f"PostHog answered {attempt.status}",
        )
        return False

    def _split(self, batch: list[bytes]) -> bool:
        if len(batch) == 1:
            self._count("dropped_rejected")
            logger.error("posthog-web dropped one event PostHog refused as too large (413)")
            return False
        middle = len(batch) // 2
        first = self._deliver(batch[:middle])
        second = self._deliver(batch[middle:])
        return first and second

    # Shared by the sender thread and sync mode ----------------------------------

    def post(self, batch: list[bytes], *, in_sender: bool = False) -> _Attempt:
        """POST ``batch`` with retries; returns the last status, or None with the error.

        In the sender thread, retries stop at the shutdown/exit deadline; in sync mode
        (the caller's thread) the retry budget alone bounds them.
        """
        opts = self.options
        retries = 0
        while True:
            deadline = self._deadline if in_sender else None
            timeout = opts.timeout
            if deadline is not None:
                timeout = max(0.05, min(timeout, deadline - time.monotonic()))
            retry_after = 0.0
            try:
                response = self.transport.send(
                    opts.batch_url, self._body(batch), self._headers, timeout
                )
            except TransportError as exc:
                status: int | None = None
                error = f"no answer from {opts.batch_url} ({exc})"
            else:
                status = response.status
                if 200 <= status < 300:
                    self._count("sent", len(batch))
                    return _Attempt(status)
                if not _retryable(status):
                    why = _REFUSAL_REASONS.get(status, "")
                    return _Attempt(status, f"PostHog answered {status}{why}")
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                error = f"PostHog answered {status}"
            if retries >= opts.max_retries:
                return _Attempt(status, f"{error}, after {retries + 1} attempts")
            delay = min(BACKOFF_CAP, opts.retry_base_delay * 2**retries)
            delay = max(delay * random.uniform(0.5, 1.0), retry_after)
            if deadline is not None and time.monotonic() + delay > deadline:
                return _Attempt(status, f"{error}; gave up at the shutdown deadline", True)
            retries += 1
            self._count("retried", len(batch))
            logger.info("posthog-web retrying %d event(s) in %.2f s: %s", len(batch), delay, error)
            if in_sender:
                if self._interrupt.wait(delay):
                    self._interrupt.clear()
            else:
                time.sleep(delay)

    def _body(self, batch: list[bytes]) -> bytes:
        # sent_at is new on every attempt; the events themselves are byte-identical.
        body = b"".join(
            (
                b'{"api_key":',
                self._api_key_json,
                b',"historical_migration":false,"sent_at":"',
                now_iso().encode(),
                b'","batch":[',
                b",".join(batch),
                b"]}",
            )
        )
        if self.options.gzip:
            return gzip.compress(body, compresslevel=6, mtime=0)
        return body

    def stats(self) -> dict[str, int]:
        """Counters: queued, pending, sent, retried and dropped by reason."""
        with self._lock:
            counts = dict(self.counts)
        pending = self.pending()
        counts["pending"] = pending
        counts["queued"] = self._dequeued + pending
        for key in ("sent", "retried", *(f"dropped_{r}" for r in DROP_REASONS)):
            counts.setdefault(key, 0)
        counts["dropped"] = sum(v for k, v in counts.items() if k.startswith("dropped_"))
        return counts


_REFUSAL_REASONS = {
    400: " (the batch is malformed)",
    401: " (the project API key is missing or malformed)",
    403: " (the key was refused: use the project API key, not a personal key)",
}


def _retryable(status: int) -> bool:
    return status in (408, 429) or status >= 500


def _parse_retry_after(value: str | None) -> float:
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


def _call_if_alive(ref: Callable[[], Sender | None], method: str) -> None:
    target = ref()
    if target is not None:
        getattr(target, method)()
