"""The delivery engine: a bounded queue drained by one lazily started sender thread.

Callers only append to a deque (no lock, no I/O); the sender thread encodes, batches,
compresses, posts to ``/batch/`` and retries. With a spool directory, what cannot be
delivered within the retry budget, or before the process exits, goes to the durable
spool (:mod:`posthog_web.spool`) and is sent again, oldest first, once PostHog answers.
See docs/delivery.md for the defaults and docs/reliability.md for the guarantees.
"""

from __future__ import annotations

import atexit
import collections
import email.utils
import gzip
import hashlib
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

from posthog_web.events import (
    MAX_EVENT_BYTES,
    complete_event,
    complete_events,
    encode_json,
    now_iso,
)
from posthog_web.spool import Claim, Spool
from posthog_web.transport import USER_AGENT, Transport, TransportError

logger = logging.getLogger(__name__)

MAX_BATCH_BYTES = 5 * 1024 * 1024
RETRY_AFTER_CAP = 60.0
BACKOFF_CAP = 30.0
DROP_WARNING_INTERVAL = 10.0
#: While offline, the oldest spooled batch is tried again after at most this long.
PROBE_CAP = 10.0
#: How often an online sender looks for batches other processes left in the spool.
SPOOL_SCAN_INTERVAL = 5.0
#: At exit, how long to let the sender thread finish the batch it is assembling.
EVACUATE_JOIN = 0.5
DEFAULT_SPOOL_MAX_BYTES = 100 * 1024 * 1024
#: Queued dicts are encoded this many at a time, by one encoder call (a run).
RUN_LENGTH = 100

#: A queued event: complete and encoded, a dict (``Client.enqueue``, the integrations), or
#: encoded without timestamp and uuid, with the time of the call in Unix nanoseconds and
#: the timestamp given (``Client.capture()``; see ``events.complete_event``).
Item = bytes | dict[str, Any] | tuple[bytes, int, str | None]
DROP_REASONS = (
    "queue_full",
    "rejected",
    "oversized",
    "unencodable",
    "retries",
    "shutdown",
    "shut_down",
    "spool_full",
)


class DeliveryError(Exception):
    """Raised in sync mode when PostHog could not be reached within the retry budget."""


@dataclass(slots=True)
class _FlushMarker:
    failures_before: int
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = True


@dataclass(slots=True)
class _Batch:
    """Encoded events to post together.

    ``parts`` are joined by commas into the body: each is one event, or, at an index in
    ``runs``, the events encoded from those dicts by one call (see ``Sender._events``).
    """

    parts: list[bytes] = field(default_factory=list)
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    count: int = 0
    size: int = 0

    @classmethod
    def of(cls, events: list[bytes]) -> _Batch:
        return cls(events, {}, len(events), sum(len(event) + 1 for event in events))

    def add(self, part: bytes, run: list[dict[str, Any]] | None) -> None:
        if run is None:
            self.count += 1
        else:
            self.runs[len(self.parts)] = run
            self.count += len(run)
        self.parts.append(part)
        self.size += len(part) + 1


@dataclass(slots=True)
class DeliveryOptions:
    """Delivery settings, validated by :class:`posthog_web.Client`."""

    api_key: str = field(repr=False)
    batch_url: str
    gzip: bool = True
    flush_at: int = 500
    flush_interval: float = 0.5
    max_queue_size: int = 10_000
    max_batch_size: int = 1000
    max_retries: int = 6
    retry_base_delay: float = 0.5
    timeout: float = 10.0
    exit_flush_timeout: float = 5.0
    spool_dir: str | None = None
    spool_max_bytes: int = DEFAULT_SPOOL_MAX_BYTES


@dataclass(slots=True)
class _Attempt:
    """The outcome of posting one batch, retries included."""

    status: int | None
    error: str | None = None
    gave_up_at_deadline: bool = False
    retry_after: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Sender:
    """Owns the queue, the sender thread, the retry policy and the spool for one client."""

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
        # The batch being posted; at exit, whoever takes it out of here spools it.
        self._inflight: _Batch | None = None
        self._evacuating = False
        self._spool: Spool | None = None
        self._spool_opened = False
        # Offline: the retry budget ran out, so batches go straight to the spool and
        # only the oldest spooled batch is tried, at _probe_at, with backoff.
        self._offline = False
        self._probe_at = 0.0
        self._probe_failures = 0
        self._spool_check_at = 0.0

    # Caller side -----------------------------------------------------------------

    def put(self, item: Item) -> bool:
        """Queue one event; never blocks. Returns False when it was dropped."""
        queue = self._queue
        if len(queue) >= self.options.max_queue_size and not self._stopping:
            # Full: hand the GIL to the sender thread once (a busy caller would otherwise
            # keep it for the whole switch interval) and look again. A yield, not a wait.
            time.sleep(0)
        if len(queue) >= self.options.max_queue_size or self._stopping:
            self._drop_on_put("queue_full" if not self._stopping else "shut_down")
            return False
        queue.append(item)
        if self._thread is None:
            self._start()
        elif len(queue) >= self.options.flush_at and not self._wake.is_set():
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
        """Wait until everything queued so far was delivered; False on timeout or loss.

        Events written to the spool instead count as not delivered.
        """
        if self._thread is None or not self._thread.is_alive():
            return self.pending() == 0
        marker = _FlushMarker(self._failed_batches)
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(max(timeout, 0.0)) and marker.ok

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout``, spool what is left, then stop. Later events are dropped."""
        thread = self._thread
        deadline = time.monotonic() + max(timeout, 0.0)
        spooled_before = self.counts["spooled"]
        self._set_deadline(timeout)
        ok = self.flush(timeout)
        if not ok and thread is not None:
            self._evacuate(spooled_before)
        self._stopping = True
        self._wake.set()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()) + 0.05)
        self.transport.close()
        return ok

    def _exit_flush(self) -> None:
        if self._thread is None or self._stopping:
            return
        left = self.pending() + (self._inflight.count if self._inflight else 0)
        if not left:
            return
        spooled_before = self.counts["spooled"]
        self._set_deadline(self.options.exit_flush_timeout)
        if self.flush(self.options.exit_flush_timeout):
            return
        if self._evacuate(spooled_before):
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

    def _evacuate(self, spooled_before: int) -> bool:
        """At shutdown: write every event still in memory to the spool, in this thread.

        The sender thread stops taking work; a batch it is posting is taken from it (if
        that post succeeds after all, PostHog deduplicates the copy by uuid). Returns
        False when there is no spool.
        """
        spool = self._open_spool()
        if spool is None:
            return False
        with self._lock:
            self._evacuating = True
            inflight, self._inflight = self._inflight, None
        self._interrupt.set()
        self._wake.set()
        thread = self._thread
        if inflight is None and thread is not None and thread is not threading.current_thread():
            # Let it finish spooling a batch it was assembling or writing.
            thread.join(EVACUATE_JOIN)
        if inflight:
            self._spool_batch(self._events(inflight), "shutdown")
        items: list[bytes] = []
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if isinstance(item, _FlushMarker):
                item.ok = False
                item.done.set()
                continue
            encoded = self._encode(item)
            if encoded is not None:
                items.append(encoded)
        for batch in _chunks(items, self.options.max_batch_size):
            self._spool_batch(batch, "shutdown")
        # Whatever is captured from here on (say, by later atexit hooks) is counted, not lost.
        self._stopping = True
        written = self.counts["spooled"] - spooled_before
        if written:
            logger.warning(
                "posthog-web wrote %d undelivered event(s) to the spool at %s while stopping; "
                "they are sent when PostHog answers again, by any process using that spool",
                written,
                spool.path,
            )
        return True

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
        self._open_spool()
        while True:
            if len(queue) < opts.flush_at:
                self._wake.wait(self._idle_wait())
                self._wake.clear()
            while queue and not self._evacuating:
                try:
                    backlog = self._drain_once()
                    self._spool_work()
                except Exception:  # pragma: no cover - a bug must not kill delivery
                    logger.exception("posthog-web sender failed; continuing")
                    break
                if not backlog:
                    break
            if self._evacuating:
                return
            try:
                self._spool_work()
            except Exception:  # pragma: no cover - a bug must not kill delivery
                logger.exception("posthog-web sender failed on the spool; continuing")
            if not queue and self._stopping:
                self.transport.close()
                return

    def _idle_wait(self) -> float:
        wait = self.options.flush_interval
        if self._spool is not None and self._offline:
            wait = min(wait, max(0.01, self._probe_at - time.monotonic()))
        return wait

    def _drain_once(self) -> bool:
        """Send one batch; True when a limit cut it short and more should go at once."""
        items, marker = self._take()
        batch, rest = self._assemble(items)
        if rest:
            # Cut short by the 5 MiB limit: the rest goes first next time, and a flush
            # marker after it, so that flush() waits for it.
            self._dequeued -= len(rest)
            if marker is not None:
                rest.append(marker)
                marker = None
            self._queue.extendleft(reversed(rest))
        if batch.count and not self._deliver(batch):
            self._failed_batches += 1
        if marker is not None:
            marker.ok = self._failed_batches == marker.failures_before
            marker.done.set()
        full = len(items) >= self.options.max_batch_size and bool(self._queue)
        return full or bool(rest) or marker is not None

    def _take(self) -> tuple[list[Item], _FlushMarker | None]:
        """Up to max_batch_size events from the queue, and the flush marker that ended them."""
        queue = self._queue
        limit = self.options.max_batch_size
        items: list[Item] = []
        marker: _FlushMarker | None = None
        while queue and len(items) < limit:
            item = queue.popleft()
            if isinstance(item, _FlushMarker):
                marker = item
                break
            items.append(item)
        self._dequeued += len(items)
        return items, marker

    def _assemble(self, items: list[Item]) -> tuple[_Batch, list[Item | _FlushMarker]]:
        """Encode ``items`` into a batch; returns it and the events that would take it
        over 5 MiB (to go back to the queue)."""
        batch = _Batch()
        start = 0
        while start < len(items):
            end = _group_end(items, start)
            parts = self._encode_group(items[start:end])
            for index, (part, run) in enumerate(parts):
                if batch.parts and batch.size + len(part) > MAX_BATCH_BYTES:
                    rest: list[Item | _FlushMarker] = []
                    for left, left_run in parts[index:]:
                        rest.extend([left] if left_run is None else left_run)
                    rest.extend(items[end:])
                    return batch, rest
                batch.add(part, run)
            start = end
        return batch, []

    def _encode_group(self, group: list[Item]) -> list[tuple[bytes, list[dict[str, Any]] | None]]:
        """Encode one item, or a run of dicts by one encoder call (about 0.8 µs less per
        event than a call each; a run that fails or is over 900 KiB is encoded one by one),
        or complete a run of events from ``capture()``."""
        if isinstance(group[0], tuple):
            partials = [item for item in group if isinstance(item, tuple)]
            return [(event, None) for event in complete_events(partials)]
        if len(group) > 1:
            run = [item for item in group if isinstance(item, dict)]
            try:
                encoded = encode_json(run)
            except (TypeError, ValueError):
                pass  # find and drop the culprit below
            else:
                if len(encoded) - 2 <= MAX_EVENT_BYTES:
                    return [(encoded[1:-1], run)]
        parts: list[tuple[bytes, list[dict[str, Any]] | None]] = []
        for item in group:
            encoded_item = self._encode(item)
            if encoded_item is not None:
                parts.append((encoded_item, None))
        return parts

    def _events(self, batch: _Batch) -> list[bytes]:
        """One encoded event each (for the spool and 413 splits): runs encoded again, one
        dict per call, which gives the very same bytes."""
        if not batch.runs:
            return batch.parts
        events: list[bytes] = []
        for index, part in enumerate(batch.parts):
            run = batch.runs.get(index)
            if run is None:
                events.append(part)
            else:
                events.extend(encode_json(item) for item in run)
        return events

    def _encode(self, item: Item) -> bytes | None:
        if isinstance(item, bytes):
            return item
        if isinstance(item, tuple):
            return complete_event(*item)
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

    def _deliver(self, batch: _Batch) -> bool:
        if self._offline and self._spool is not None:
            self._spool_or_drop(self._events(batch), "retries", None)
            return False
        with self._lock:
            evacuating = self._evacuating
            if not evacuating:
                self._inflight = batch
        if evacuating:
            self._spool_or_drop(self._events(batch), "shutdown", None)
            return False
        try:
            attempt = self.post(batch.parts, in_sender=True, events=batch.count)
        finally:
            with self._lock:
                mine = self._inflight is batch
                self._inflight = None
        if attempt.ok:
            self._now_online()
            return True
        if not mine:
            return False  # taken over by _evacuate(), which spooled it
        if attempt.status == 413:
            return self._split(self._events(batch))
        if attempt.status is not None and not _retryable(attempt.status):
            self._drop(batch.count, "rejected", attempt)
            return False
        if not attempt.gave_up_at_deadline and self._spool is not None:
            self._go_offline(attempt)
        self._spool_or_drop(
            self._events(batch), "shutdown" if attempt.gave_up_at_deadline else "retries", attempt
        )
        return False

    def _split(self, batch: list[bytes]) -> bool:
        if len(batch) == 1:
            self._count("dropped_rejected")
            logger.error("posthog-web dropped one event PostHog refused as too large (413)")
            return False
        middle = len(batch) // 2
        first = self._deliver(_Batch.of(batch[:middle]))
        second = self._deliver(_Batch.of(batch[middle:]))
        return first and second

    def _drop(self, count: int, reason: str, attempt: _Attempt | None) -> None:
        self._count(f"dropped_{reason}", count)
        why = "the spool could not take them"
        if attempt is not None:
            why = attempt.error or f"PostHog answered {attempt.status}"
        logger.error("posthog-web dropped %d event(s): %s", count, why)

    def _spool_or_drop(self, batch: list[bytes], reason: str, attempt: _Attempt | None) -> None:
        """Spool a batch that cannot be delivered now; drop it (``reason``) without a spool."""
        if self._spool_batch(batch, reason) == 0:
            self._drop(len(batch), reason, attempt)

    # The spool -------------------------------------------------------------------

    def _open_spool(self) -> Spool | None:
        """The spool, opened on first use (in the sender thread, or at exit)."""
        if self.options.spool_dir is None:
            return None
        with self._lock:
            if self._spool_opened:
                return self._spool
            self._spool_opened = True
        path = os.path.join(self.options.spool_dir, _namespace(self.options))
        spool = Spool(path, self.options.spool_max_bytes)
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
        self._spool = spool
        return spool

    def _spool_batch(self, batch: list[bytes], reason: str, *, count: bool = True) -> int:
        """Write ``batch`` to the spool; the number of events handled (0: not at all)."""
        spool = self._spool
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
            self._count("spooled", result.written)
            logger.info(
                "posthog-web spooled %d event(s) (%s)",
                result.written,
                _SPOOL_WHY.get(reason, reason),
            )
        if result.dropped:
            self._count("dropped_spool_full", result.dropped)
            logger.warning(
                "posthog-web dropped %d spooled event(s), oldest first: the spool is over "
                "spool_max_bytes (%d)",
                result.dropped,
                spool.max_bytes,
            )
        return len(batch)

    def _go_offline(self, attempt: _Attempt) -> None:
        if not self._offline:
            logger.warning(
                "posthog-web: PostHog did not take a batch within the retry budget (%s); "
                "events go to the spool until it answers again",
                attempt.error or f"PostHog answered {attempt.status}",
            )
        self._offline = True
        self._probe_failures = 0
        self._probe_at = time.monotonic() + self._probe_delay(attempt.retry_after)

    def _now_online(self) -> None:
        if self._spool is None:
            return
        if self._offline:
            logger.warning("posthog-web: PostHog answers again; sending the spooled events")
        self._offline = False
        self._probe_failures = 0
        self._spool_check_at = 0.0

    def _probe_delay(self, retry_after: float) -> float:
        delay = min(PROBE_CAP, self.options.retry_base_delay * 2.0**self._probe_failures)
        return max(delay * random.uniform(0.5, 1.0), retry_after)

    def _spool_work(self) -> None:
        """Send the oldest spooled batch if it is time; one per call, between live batches."""
        spool = self._spool
        if spool is None or self._evacuating or self._stopping:
            return
        now = time.monotonic()
        if now < (self._probe_at if self._offline else self._spool_check_at):
            return
        try:
            claim = spool.claim()
        except OSError as exc:
            logger.error("posthog-web could not read the spool: %s", exc)
            claim = None
        if claim is None:
            # Nothing left that is ours to send: live batches get normal attempts again.
            self._offline = False
            self._spool_check_at = now + SPOOL_SCAN_INTERVAL
            return
        if self._resend(claim):
            # More may wait: the sender loop comes straight back (live events first).
            self._spool_check_at = 0.0
            self._wake.set()

    def _resend(self, claim: Claim) -> bool:
        """One attempt at a spooled batch; True when the next one may go at once."""
        events = claim.events
        attempt = self.post(events, in_sender=True, max_retries=0)
        if attempt.ok:
            claim.done()
            self._count("resent", len(events))
            self._now_online()
            return True
        status = attempt.status
        if status == 413 and len(events) > 1:
            middle = len(events) // 2
            for half in (events[:middle], events[middle:]):
                if not self._spool_batch(half, "split", count=False):
                    self._drop(len(half), "retries", attempt)
            claim.done()
            return True
        if status is not None and (status == 413 or not _retryable(status)):
            claim.done()
            self._drop(len(events), "rejected", attempt)
            return True
        claim.release()
        self._offline = True
        self._probe_failures += 1
        self._probe_at = time.monotonic() + self._probe_delay(attempt.retry_after)
        logger.info(
            "posthog-web: spooled events not sent yet (%s); next try in %.1f s",
            attempt.error,
            self._probe_at - time.monotonic(),
        )
        return False

    # Shared by the sender thread and sync mode ----------------------------------

    def post(
        self,
        batch: list[bytes],
        *,
        in_sender: bool = False,
        max_retries: int | None = None,
        events: int | None = None,
    ) -> _Attempt:
        """POST ``batch`` with retries; returns the last status, or None with the error.

        ``events`` is how many events the parts of ``batch`` hold (default: one each).
        In the sender thread, retries stop at the shutdown/exit deadline; in sync mode
        (the caller's thread) the retry budget alone bounds them.
        """
        opts = self.options
        count = len(batch) if events is None else events
        budget = opts.max_retries if max_retries is None else max_retries
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
                    self._count("sent", count)
                    return _Attempt(status)
                if not _retryable(status):
                    why = _REFUSAL_REASONS.get(status, "")
                    return _Attempt(status, f"PostHog answered {status}{why}")
                retry_after = _parse_retry_after(response.headers.get("Retry-After"))
                error = f"PostHog answered {status}"
            if retries >= budget:
                return _Attempt(
                    status, f"{error}, after {retries + 1} attempts", False, retry_after
                )
            if in_sender and self._evacuating:
                return _Attempt(status, f"{error}; stopped for exit", True)
            delay = min(BACKOFF_CAP, opts.retry_base_delay * 2**retries)
            delay = max(delay * random.uniform(0.5, 1.0), retry_after)
            if deadline is not None and time.monotonic() + delay > deadline:
                return _Attempt(status, f"{error}; gave up at the shutdown deadline", True)
            retries += 1
            self._count("retried", count)
            logger.info("posthog-web retrying %d event(s) in %.2f s: %s", count, delay, error)
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
            # Level 1: a third of level 6's CPU for bodies about 15% larger (bench/).
            return gzip.compress(body, compresslevel=1, mtime=0)
        return body

    def stats(self) -> dict[str, int]:
        """Counters: queued, pending, sent, retried, spooled, resent and dropped by reason."""
        with self._lock:
            counts = dict(self.counts)
        pending = self.pending()
        counts["pending"] = pending
        counts["queued"] = self._dequeued + pending
        for key in (
            "sent",
            "retried",
            "spooled",
            "resent",
            *(f"dropped_{r}" for r in DROP_REASONS),
        ):
            counts.setdefault(key, 0)
        counts["dropped"] = sum(v for k, v in counts.items() if k.startswith("dropped_"))
        return counts


def _namespace(options: DeliveryOptions) -> str:
    # One directory per project and host: apps sharing a spool_dir never send each
    # other's events.
    digest = hashlib.sha256(f"{options.api_key}\n{options.batch_url}".encode()).hexdigest()
    return f"project-{digest[:16]}"


def _group_end(items: list[Item], start: int) -> int:
    """End of the group starting at ``start``: one item, or up to RUN_LENGTH dicts, or
    up to RUN_LENGTH events from ``capture()`` (tuples)."""
    first = items[start]
    kind = dict if isinstance(first, dict) else tuple if isinstance(first, tuple) else None
    end = start + 1
    if kind is not None:
        limit = min(len(items), start + RUN_LENGTH)
        while end < limit and isinstance(items[end], kind):
            end += 1
    return end


def _chunks(items: list[bytes], size: int) -> list[list[bytes]]:
    batches: list[list[bytes]] = []
    batch: list[bytes] = []
    nbytes = 0
    for item in items:
        if batch and (len(batch) >= size or nbytes + len(item) > MAX_BATCH_BYTES):
            batches.append(batch)
            batch, nbytes = [], 0
        batch.append(item)
        nbytes += len(item) + 1
    if batch:
        batches.append(batch)
    return batches


_SPOOL_WHY = {
    "retries": "PostHog did not take them within the retry budget",
    "shutdown": "the process is stopping",
}

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
