"""The ASGI types the adapter uses, and where it puts the helper in the scope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["HELPER_SCOPE_KEY", "HELPER_STATE_KEY", "ASGIApp", "Message", "Receive", "Scope", "Send"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DistinctIdFn = Callable[[Any], "str | None"]
PersonPropertiesFn = Callable[[Any], "Mapping[str, Any] | None"]

HELPER_SCOPE_KEY = "posthog_web"
HELPER_STATE_KEY = "posthog"
