"""The delivery engine: a bounded queue drained by one lazily started sender thread.

Callers only append to a deque (no lock, no I/O); the sender thread encodes and batches
(:mod:`.encoding`), posts to ``/batch/`` with retries (:mod:`.retry`) and, with a spool
directory, writes what cannot be delivered within the retry budget, or before the process
exits, to the durable spool, sending it again once PostHog answers (:mod:`.offline`).
This module holds the queue, the thread and their lifecycle: flush, shutdown, exit, fork.
See docs/delivery.md for the defaults and docs/reliability.md for the guarantees.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from posthog_web.delivery.batches import BatchDelivery
from posthog_web.delivery.counters import Counters
from posthog_web.delivery.encoding import BodyEncoder, Encoder, Item, chunks
from posthog_web.delivery.offline import Spooling
from posthog_web.delivery.options import DeliveryOptions
from posthog_web.delivery.retry import Attempt, Poster, Stopping
from posthog_web.delivery.transport import Transport

logger = logging.getLogger(__name__)

DROP_WARNING_INTERVAL = 10.0
#: At exit, how long to let the sender thread finish the batch it is assembling.
EVACUATE_JOIN = 0.5


@dataclass(slots=True)
class _FlushMarker:
    failures_before: int
    done: threading.Event = field(default_factory=threading.Event)
    ok: bool = True


class Sender:
    """Owns the queue and the sender thread of one client, and stops them at exit."""

    def __init__(self, options: DeliveryOptions, transport: Transport) -> None:
        self.options = options
        self.transport = transport
        self._body = BodyEncoder(options.api_key, options.gzip)
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
        self._stop = Stopping()
        self._dequeued = 0
        self._failed_batches = 0
        self._last_drop_warning = 0.0
        self._counters = Counters()
        self._encoder = Encoder(self._counters)
        self._poster = Poster(self.options, self.transport, self._body, self._counters, self._stop)
        self._spooling = Spooling(
            self.options, self._counters, self._poster, self._stop, self._wake
        )
        self._batches = BatchDelivery(self._poster, self._spooling, self._counters, self._stop)

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
        total = self._counters.add(f"dropped_{reason}")
        with self._lock:
            now = time.monotonic()
            if now - self._last_drop_warning < DROP_WARNING_INTERVAL:
                return
            self._last_drop_warning = now
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
        spooled_before = self._counters["spooled"]
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

    def post(self, batch: list[bytes]) -> Attempt:
        """POST ``batch`` now, in the caller's thread, within the retry budget (sync mode)."""
        return self._poster.post(batch)

    def stats(self) -> dict[str, int]:
        """Counters: queued, pending, sent, retried, spooled, resent and dropped by reason."""
        return self._counters.stats(self.pending(), self._dequeued)

    def count_dropped(self, reason: str) -> None:
        """Count an event a caller dropped before the queue (``dropped_<reason>``)."""
        self._counters.add(f"dropped_{reason}")

    def _exit_flush(self) -> None:
        if self._thread is None or self._stopping:
            return
        left = self.pending() + self._batches.in_flight()
        if not left:
            return
        spooled_before = self._counters["spooled"]
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
        self._stop.deadline = time.monotonic() + max(timeout, 0.0)
        self._stop.interrupt.set()

    def _evacuate(self, spooled_before: int) -> bool:
        """At shutdown: write every event still in memory to the spool, in this thread.

        The sender thread stops taking work; a batch it is posting is taken from it (if
        that post succeeds after all, PostHog deduplicates the copy by uuid). Returns
        False when there is no spool.
        """
        spool = self._spooling.open()
        if spool is None:
            return False
        inflight = self._batches.take_over()
        self._stop.interrupt.set()
        self._wake.set()
        thread = self._thread
        if inflight is None and thread is not None and thread is not threading.current_thread():
            # Let it finish spooling a batch it was assembling or writing.
            thread.join(EVACUATE_JOIN)
        if inflight:
            self._spooling.write(inflight.events(), "shutdown")
        events: list[bytes] = []
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if isinstance(item, _FlushMarker):
                item.ok = False
                item.done.set()
                continue
            encoded = self._encoder.encode(item)
            if encoded is not None:
                events.append(encoded)
        for batch in chunks(events, self.options.max_batch_size):
            self._spooling.write(batch, "shutdown")
        # Whatever is captured from here on (say, by later atexit hooks) is counted, not lost.
        self._stopping = True
        written = self._counters["spooled"] - spooled_before
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
        reset = getattr(self.transport, "reset_after_fork", None)
        if reset is not None:
            reset()

    # Sender thread ---------------------------------------------------------------

    def _run(self) -> None:
        opts = self.options
        queue = self._queue
        stop = self._stop
        spooling = self._spooling
        spooling.open()
        while True:
            if len(queue) < opts.flush_at:
                self._wake.wait(spooling.idle_wait(opts.flush_interval))
                self._wake.clear()
            while queue and not stop.evacuating:
                try:
                    backlog = self._drain_once()
                    spooling.work(self._stopping)
                except Exception:  # pragma: no cover - a bug must not kill delivery
                    logger.exception("posthog-web sender failed; continuing")
                    break
                if not backlog:
                    break
            if stop.evacuating:
                return
            try:
                spooling.work(self._stopping)
            except Exception:  # pragma: no cover - a bug must not kill delivery
                logger.exception("posthog-web sender failed on the spool; continuing")
            if not queue and self._stopping:
                self.transport.close()
                return

    def _drain_once(self) -> bool:
        """Send one batch; True when a limit cut it short and more should go at once."""
        items, marker = self._take()
        batch, rest = self._encoder.assemble(items)
        if rest:
            # Cut short by the 5 MiB limit: the rest goes first next time, and a flush
            # marker after it, so that flush() waits for it.
            self._dequeued -= len(rest)
            back: list[Item | _FlushMarker] = list(rest)
            if marker is not None:
                back.append(marker)
                marker = None
            self._queue.extendleft(reversed(back))
        if batch.count and not self._batches.deliver(batch):
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


def _call_if_alive(ref: Callable[[], Sender | None], method: str) -> None:
    target = ref()
    if target is not None:
        getattr(target, method)()
