"""The delivery settings and the error sync mode raises."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SPOOL_MAX_BYTES = 100 * 1024 * 1024


class DeliveryError(Exception):
    """Raised in sync mode when PostHog could not be reached within the retry budget."""


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
