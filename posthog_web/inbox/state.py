"""What the inbox's request handler works on, handed down by :class:`InboxServer`.

A plain value, so that the socket layer (``httpd``) and the handler never import the
server that owns them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from posthog_web.inbox.faults import FaultInjector
from posthog_web.inbox.flags import InboxFlags
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.store import EventStore
from posthog_web.inbox.ui import InboxData

#: Only the latest requests are kept, so a long-running inbox does not grow without bound.
MAX_RECORDED_REQUESTS = 10_000


class RequestLog:
    """The latest requests to capture paths, in arrival order; safe across threads."""

    def __init__(self, maxlen: int = MAX_RECORDED_REQUESTS) -> None:
        self._requests: deque[RecordedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()


@dataclass(slots=True)
class InboxState:
    """The store, the fault injector, the request log, the stop signal and the flags of one
    inbox.

    ``faults`` may be replaced while serving (``InboxServer.faults`` is assignable).
    """

    store: EventStore
    faults: FaultInjector = field(default_factory=FaultInjector)
    requests: RequestLog = field(default_factory=RequestLog)
    stopping: threading.Event = field(default_factory=threading.Event)
    flags: InboxFlags = field(default_factory=InboxFlags)
    #: The stored events as the page's views read them (cached).
    data: InboxData = field(init=False)

    def __post_init__(self) -> None:
        self.data = InboxData(self.store)

    def clear(self) -> None:
        """Forget every stored event and recorded request (faults stay armed)."""
        self.requests.clear()
        self.store.clear()
