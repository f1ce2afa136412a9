"""The request's identity beyond the request: threads, and helpers for background jobs.

``asyncio`` tasks copy the context they are created in, so :func:`~posthog_web.current`
keeps working in them. Threads do not: :func:`with_current` carries the caller's context
into a function run by a ``concurrent.futures`` executor or a ``threading.Thread``.
:func:`detached_helper` builds a helper for work that has no request at all (a Celery
task): events go out on a given person, session and groups (docs/background.md).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from posthog_web.events import (
    EVENT_PAGEVIEW,
    PROP_PROCESS_PERSON_PROFILE,
    PROP_SESSION_ID,
    validate_distinct_id,
)
from posthog_web.groups import validate_groups
from posthog_web.web.helper import RequestHelper
from posthog_web.web.posthog_js import PostHogJS

if TYPE_CHECKING:
    from posthog_web.client import Client
    from posthog_web.flags.results import FlagResult

_NONE: Mapping[str, Any] = {}

__all__ = ["DetachedIdentity", "DetachedTracker", "detached_helper", "with_current"]

P = ParamSpec("P")
R = TypeVar("R")


def with_current(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run in a copy of the caller's context, so ``current()`` is the caller's helper.

    Wrap at the place that hands the work to a thread::

        executor.submit(posthog_web.with_current(send_report), user_id)
    """
    context = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        # A copy per call: one context cannot be entered by two threads at once.
        return context.copy().run(fn, *args, **kwargs)

    return run


@dataclass(slots=True, eq=False)
class DetachedIdentity:
    """Who a detached helper's events are for."""

    distinct_id: str
    session_id: str | None = None
    groups: dict[str, str] = field(default_factory=dict)
    personless: bool = False


class DetachedTracker:
    """The helper's tracker for work outside a request: it calls the client directly."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def distinct_id(self, ctx: DetachedIdentity) -> str:
        return ctx.distinct_id

    def session_id(self, ctx: DetachedIdentity) -> str | None:
        return ctx.session_id

    def is_identified(self, ctx: DetachedIdentity) -> bool:
        return not ctx.personless

    def explicit_identity(self, ctx: DetachedIdentity) -> bool:
        return False

    def posthog_js(self, ctx: DetachedIdentity) -> PostHogJS | None:
        return None

    # Feature flags for the detached visitor and its groups: no request, so no
    # per-request cache and nothing added to its events (web/flags.py does that).
    def feature_flag(self, ctx: DetachedIdentity, key: str, send_event: bool = True) -> FlagResult:
        result = self.client.flags.evaluate(key, ctx.distinct_id, _NONE, ctx.groups)
        if send_event:
            self.client._report(result, ctx.distinct_id, ctx.groups)
        return result

    async def afeature_flag(
        self, ctx: DetachedIdentity, key: str, send_event: bool = True
    ) -> FlagResult:
        result = await self.client.flags.aevaluate(key, ctx.distinct_id, _NONE, ctx.groups)
        if send_event:
            self.client._report(result, ctx.distinct_id, ctx.groups)
        return result

    def all_flags(self, ctx: DetachedIdentity) -> dict[str, FlagResult]:
        return self.client.flags.evaluate_all(ctx.distinct_id, _NONE, ctx.groups)

    async def aall_flags(self, ctx: DetachedIdentity) -> dict[str, FlagResult]:
        return await self.client.flags.aevaluate_all(ctx.distinct_id, _NONE, ctx.groups)

    def _properties(self, ctx: DetachedIdentity, properties: dict[str, Any]) -> dict[str, Any]:
        props = dict(properties)
        if ctx.session_id is not None:
            props.setdefault(PROP_SESSION_ID, ctx.session_id)
        if ctx.personless:
            props[PROP_PROCESS_PERSON_PROFILE] = False
        return props

    def capture(
        self,
        ctx: DetachedIdentity,
        event: str,
        properties: dict[str, Any],
        *,
        timestamp: str | None = None,
    ) -> None:
        self.client.capture(
            event,
            distinct_id=ctx.distinct_id,
            properties=self._properties(ctx, properties),
            timestamp=timestamp,
            groups=ctx.groups or None,
        )

    def pageview_properties(
        self, ctx: DetachedIdentity, name: str | None, properties: dict[str, Any]
    ) -> None:
        return  # no request, so no automatic page view to name

    def page(self, ctx: DetachedIdentity, name: str | None, properties: dict[str, Any]) -> None:
        if not name:
            self.capture(ctx, EVENT_PAGEVIEW, properties)
            return
        self.client.page(
            distinct_id=ctx.distinct_id,
            name=name,
            properties=self._properties(ctx, properties),
            groups=ctx.groups or None,
        )

    def screen(self, ctx: DetachedIdentity, name: str, properties: dict[str, Any]) -> None:
        self.client.screen(
            distinct_id=ctx.distinct_id,
            name=name,
            properties=self._properties(ctx, properties),
            groups=ctx.groups or None,
        )

    def identify(
        self, ctx: DetachedIdentity, properties: dict[str, Any], properties_once: dict[str, Any]
    ) -> None:
        if not ctx.personless:
            self.client.identify(
                distinct_id=ctx.distinct_id, properties=properties, properties_once=properties_once
            )

    def alias(self, ctx: DetachedIdentity, alias: str) -> None:
        self.client.alias(distinct_id=ctx.distinct_id, alias=alias)

    def login(
        self, ctx: DetachedIdentity, distinct_id: str, properties: dict[str, Any] | None
    ) -> None:
        ctx.distinct_id = distinct_id
        ctx.personless = False
        if properties is not None:
            self.client.identify(distinct_id=distinct_id, properties=properties)

    def logout(self, ctx: DetachedIdentity) -> None:
        return  # no browser whose anonymous id could be rotated

    def groups(self, ctx: DetachedIdentity) -> dict[str, str]:
        return dict(ctx.groups)

    def group(
        self, ctx: DetachedIdentity, group_type: str, group_key: str, props: dict[str, Any] | None
    ) -> None:
        ctx.groups[group_type] = group_key
        if props is not None:
            did = None if ctx.personless else ctx.distinct_id
            self.client.group_identify(group_type, group_key, properties=props, distinct_id=did)

    def capture_exception(
        self, ctx: DetachedIdentity, exc: BaseException, properties: dict[str, Any]
    ) -> None:
        self.client.capture_exception(
            exc,
            distinct_id=ctx.distinct_id,
            properties=self._properties(ctx, properties),
            groups=ctx.groups or None,
        )

    def autocapture(
        self,
        ctx: DetachedIdentity,
        exc: BaseException,
        source: str,
        *,
        status: int | None = None,
        handled: bool = False,
    ) -> None:
        # Only adapters autocapture (from their request hooks); a job reports its own.
        return

    def set_person(self, ctx: DetachedIdentity, properties: dict[str, Any], once: bool) -> None:
        if ctx.personless or not properties:
            return
        if once:
            self.client.set_once(distinct_id=ctx.distinct_id, properties=properties)
        else:
            self.client.set(distinct_id=ctx.distinct_id, properties=properties)


def detached_helper(
    client: Client,
    *,
    distinct_id: str,
    session_id: str | None = None,
    groups: Mapping[str, str] | None = None,
    personless: bool = False,
) -> RequestHelper:
    """A helper sending on ``distinct_id`` (and ``session_id``, ``groups``) with ``client``.

    Bind it with :func:`~posthog_web.web.helper.bind` (and ``unbind`` in ``finally``) to
    make it :func:`~posthog_web.current` in a background job.
    """
    identity = DetachedIdentity(
        distinct_id=validate_distinct_id(distinct_id),
        session_id=session_id,
        groups=validate_groups(groups),
        personless=bool(personless),
    )
    return RequestHelper(DetachedTracker(client), identity)
