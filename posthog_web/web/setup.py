"""What a middleware given keyword arguments (ASGI, WSGI) checks and builds at start-up.

The arguments' checks (each a ``TypeError``/``ValueError`` naming it) and the client
an ``api_key``/``host`` pair stands for, with the keyless rules of
:mod:`posthog_web.web.fallback`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from typing import Any

from posthog_web.client import DEFAULT_HOST, Client
from posthog_web.web.fallback import PLACEHOLDER_API_KEY, keyless_host
from posthog_web.web.options import TrackerOptions

__all__ = ["middleware_client", "tracker_options"]

logger = logging.getLogger("posthog_web.web.setup")

_TRACKER_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(TrackerOptions))


def tracker_options(
    name: str,
    options: Mapping[str, Any],
    *,
    api_key: str | None,
    client: Client | None,
    secret_key: str | None,
    local_inbox: bool,
    callables: dict[str, object],
) -> TrackerOptions:
    """Check a middleware's keyword arguments; the :class:`TrackerOptions` they give.

    ``name`` is the middleware's, for the messages; ``callables`` maps an argument's
    name to a value that must be None or callable.
    """
    unknown = sorted(set(options) - _TRACKER_OPTION_NAMES)
    if unknown:
        raise TypeError(f"{name} got unknown keyword argument(s): {', '.join(unknown)}")
    if "cookie_secret" in options and secret_key is not None:
        raise TypeError(f"{name}: pass secret_key or cookie_secret, not both")
    if client is not None and api_key is not None:
        raise TypeError(f"{name}: pass api_key or client, not both")
    if client is not None and not isinstance(client, Client):
        raise TypeError(f"{name}: client must be a posthog_web.Client")
    if not isinstance(local_inbox, bool):
        raise TypeError(f"{name}: local_inbox must be True or False")
    for argument, value in callables.items():
        if value is not None and not callable(value):
            raise TypeError(f"{name}: {argument} must be a callable")
    if secret_key is not None:
        options = {**options, "cookie_secret": secret_key}
    return TrackerOptions(**options)


def middleware_client(
    name: str, api_key: str | None, host: str | None, local_inbox: bool
) -> Client | None:
    """The client for ``api_key``/``host`` (see :mod:`posthog_web.web.fallback`), or None."""
    if api_key:
        client = Client(api_key, host=host or DEFAULT_HOST)
        logger.info("posthog-web: sending events to %s", client.host)
        return client
    inbox = keyless_host(host, local_inbox=local_inbox)
    if inbox is None:
        logger.warning(
            "posthog-web: %s has no api_key and no client; it is disabled "
            "and sends nothing (local_inbox=True sends to `posthog-web inbox`)",
            name,
        )
        return None
    client = Client(PLACEHOLDER_API_KEY, host=inbox)
    logger.info(
        "posthog-web: no api_key; events go to the local inbox at %s "
        "(start it with `posthog-web inbox`)",
        client.host,
    )
    return client
