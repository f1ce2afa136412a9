"""The framework-neutral request layer: what every adapter reduces its request to.

An adapter (``posthog_web.django``, ``posthog_web.asgi``) turns its framework's request
and response into a :class:`RequestView` and a :class:`ResponseView`, and everything
after that (page view rules, identity, sessions, privacy, cookies, the events) happens
here, once, for every adapter. docs/architecture.md lists the modules.
"""

from __future__ import annotations

from posthog_web.web.request import RequestView, ResponseView, SetCookie

__all__ = ["RequestView", "ResponseView", "SetCookie"]
