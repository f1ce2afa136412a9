"""The inbox's page: one module per view, registered with ``registry.register``.

A new view (flags, groups) adds a module that calls ``register(View(...))`` and one import here.
"""

from __future__ import annotations

from posthog_web.inbox.ui import (  # noqa: F401  (each registers its views)
    analytics_view,
    events_view,
    exceptions_view,
    flags_view,
    groups_view,
    persons_view,
    sessions_view,
    warnings_view,
)
from posthog_web.inbox.ui.data import InboxData
from posthog_web.inbox.ui.registry import View, ViewContext, by_name, by_page, navigation, register

__all__ = ["InboxData", "View", "ViewContext", "by_name", "by_page", "navigation", "register"]
