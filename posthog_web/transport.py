"""The transport seam under the name docs/delivery.md gave it before ``posthog_web.delivery``.

Kept so that custom transports written against ``posthog_web.transport.Transport`` keep
working; new code imports the same names from :mod:`posthog_web.delivery`.
"""

from __future__ import annotations

from posthog_web.delivery.transport import (
    RecorderTransport,
    RequestsTransport,
    Response,
    Transport,
    TransportError,
)

__all__ = ["RecorderTransport", "RequestsTransport", "Response", "Transport", "TransportError"]
