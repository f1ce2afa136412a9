"""A local PostHog-compatible inbox: a stand-in capture server for tests and development.

Run it with ``python -m posthog_web.inbox`` (or ``posthog-web inbox``), or in-process::

    with InboxServer() as inbox:
        ...  # point a PostHog client at inbox.url
        inbox.wait_for_events(1)

Standard library only; see docs/inbox.md.
"""

from __future__ import annotations

from posthog_web.inbox.faults import FaultInjector
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.server import InboxServer

__all__ = ["FaultInjector", "InboxServer", "RecordedRequest"]
