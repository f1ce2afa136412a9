"""The request's groups: :class:`RequestGroups` (``request.posthog.group()`` and ``GROUPS``).

The configured groups callable runs once per request, and only when an event needs the
groups; ``group()`` calls add to (and win over) what it returned. Every later event of the
request carries them as ``$groups``. ``$groupidentify`` goes out only when a group's
properties differ from the last ones this process sent for it (docs/groups.md).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from posthog_web.events import encode_json
from posthog_web.groups import validate_groups
from posthog_web.web.context import RequestContext
from posthog_web.web.guard import guarded
from posthog_web.web.visitor import Visitors

if TYPE_CHECKING:
    from posthog_web.client import Client

__all__ = ["RequestGroups"]

logger = logging.getLogger(__name__)

_SENT_CACHE_SIZE = 10_000


class RequestGroups:
    """Resolves each request's groups and sends ``$groupidentify`` when they change.

    Args:
        client: sends ``$groupidentify``.
        visitors: the visitor a ``$groupidentify`` is sent for.
    """

    def __init__(self, client: Client, visitors: Visitors) -> None:
        self._client = client
        self._visitors = visitors
        self._sent: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, ctx: RequestContext) -> dict[str, str]:
        """The request's groups (runs the configured callable on first use)."""
        if not ctx.groups_resolved:
            ctx.groups_resolved = True
            source, ctx.groups_source = ctx.groups_source, None
            configured: dict[str, str] = {}
            if source is not None:
                with guarded("resolving the request's groups"):
                    configured = validate_groups(source(), "the GROUPS callable's result")
            if ctx.groups:
                configured.update(ctx.groups)
            ctx.groups = configured
        return ctx.groups or {}

    def group(
        self,
        ctx: RequestContext,
        group_type: str,
        group_key: str,
        properties: dict[str, Any] | None,
    ) -> None:
        """Add a group to the request; send its properties if they changed."""
        if ctx.groups is None:
            ctx.groups = {}
        previous = ctx.groups.get(group_type)
        ctx.groups[group_type] = group_key
        known = ctx.group_properties
        if properties is None:
            if known and previous != group_key:
                known.pop(group_type, None)  # they were another group's
            return
        if known is None:
            known = ctx.group_properties = {}
        known[group_type] = dict(properties)
        key = (group_type, group_key)
        sent = hashlib.blake2b(
            encode_json(dict(sorted(properties.items()))), digest_size=16
        ).digest()
        with self._lock:
            if self._sent.get(key) == sent:
                self._sent.move_to_end(key)
                return
            self._sent[key] = sent
            if len(self._sent) > _SENT_CACHE_SIZE:
                self._sent.popitem(last=False)
        visitors = self._visitors
        if not ctx.resolved:
            visitors.resolve(ctx)
        if ctx.opted_out:
            return
        # An anonymous visitor is not made a person for this: the group's own id is used.
        distinct_id = visitors.distinct_id(ctx) if visitors.is_identified(ctx) else None
        self._client.group_identify(
            group_type, group_key, properties=properties, distinct_id=distinct_id
        )
