"""Where events go when no API key is configured: a local inbox, or nowhere.

The Django settings and the ASGI middleware follow this one rule:

- a loopback host (``http://127.0.0.1:<port>``, ``http://localhost:<port>``) is a local
  inbox (``posthog-web inbox``) or another stand-in: events go there, with a placeholder
  key that the inbox accepts and that never leaves the machine;
- no host, and the local inbox asked for (Django: ``DEBUG``; ASGI: ``local_inbox=True``):
  events go to the inbox's default address, :data:`LOCAL_INBOX_URL`;
- otherwise nothing is sent. The integration then keeps a disabled client
  (:func:`recording_only_client`) whose events only the ``posthog_events`` test fixture
  sees, so an app's tests record page views without an API key.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from posthog_web.client import Client, is_loopback

__all__ = ["LOCAL_INBOX_URL", "PLACEHOLDER_API_KEY", "keyless_host", "recording_only_client"]

LOCAL_INBOX_URL = "http://127.0.0.1:8010"
"""Where ``posthog-web inbox`` listens by default."""

PLACEHOLDER_API_KEY = "phc_local_inbox"
"""The key sent to a local inbox when none is configured (any well-shaped key is accepted)."""


def keyless_host(host: str | None, *, local_inbox: bool) -> str | None:
    """The host a client without an API key sends to, or None when it must send nothing.

    Args:
        host: the configured host, or None when none is.
        local_inbox: whether to fall back to :data:`LOCAL_INBOX_URL` when ``host`` is None.
    """
    if host is None:
        return LOCAL_INBOX_URL if local_inbox else None
    hostname = urlsplit(host.strip()).hostname
    return host if hostname is not None and is_loopback(hostname) else None


def recording_only_client() -> Client:
    """A disabled client: it sends nothing; a ``posthog_events`` recorder still sees its events."""
    return Client(PLACEHOLDER_API_KEY, disabled=True)
