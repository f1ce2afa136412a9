"""Delivery: the queue and sender thread, batching and encoding, retries, the offline/spool
state machine, the HTTP transport, the spool and the in-memory recorder for tests.

It imports only the standard library, ``requests`` and :mod:`posthog_web.events`; the
client above it hands it encoded events. docs/architecture.md shows the parts.
"""

from __future__ import annotations

from posthog_web.delivery.options import DEFAULT_SPOOL_MAX_BYTES, DeliveryError, DeliveryOptions
from posthog_web.delivery.sender import Sender
from posthog_web.delivery.transport import (
    RecorderTransport,
    RequestsTransport,
    Response,
    Transport,
    TransportError,
)

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "DeliveryError",
    "DeliveryOptions",
    "RecorderTransport",
    "RequestsTransport",
    "Response",
    "Sender",
    "Transport",
    "TransportError",
]
