"""Pure ASGI 3 middleware: page views, identity and ``request.state.posthog``.

Works with Starlette, FastAPI and any other ASGI 3 application; it imports no
framework. It turns the ASGI scope into a :class:`~posthog_web.web.request.RequestView`
and leaves every decision (page view or not, properties, identity, cookies) to
the framework-neutral :class:`~posthog_web.web.tracker.Tracker`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from posthog_web.asgi.exchange import Exchange, run_skipped
from posthog_web.asgi.groups import GroupsFn
from posthog_web.asgi.lifespan import Lifespan
from posthog_web.asgi.types import ASGIApp, DistinctIdFn, PersonPropertiesFn, Receive, Scope, Send
from posthog_web.client import Client
from posthog_web.delivery import recorder as recording
from posthog_web.web.fallback import recording_only_client
from posthog_web.web.option_args import TrackerOptionArgs, Unpack
from posthog_web.web.setup import middleware_client
from posthog_web.web.setup import tracker_options as shared_tracker_options
from posthog_web.web.tracker import Tracker

__all__ = ["PostHogMiddleware"]

logger = logging.getLogger(__name__)


class PostHogMiddleware:
    """Record page views and identity for an ASGI 3 application.

    ``app.add_middleware(PostHogMiddleware, api_key="phc_...")`` in Starlette and
    FastAPI, or ``PostHogMiddleware(app, client=Client(...))`` around any ASGI app.

    Args:
        app: the ASGI application to wrap.
        api_key: the project API key; a :class:`~posthog_web.Client` is built from it.
        host: the PostHog ingestion host used with ``api_key`` (by default PostHog's US
            cloud). Without ``api_key``, only a loopback host (a local inbox) is used.
        local_inbox: without ``api_key`` and ``host``, send events to the local inbox
            (``posthog-web inbox``) at ``http://127.0.0.1:8010``; for example
            ``local_inbox=settings.debug``. An ``api_key`` always wins.
        client: an existing client to use instead of ``api_key``/``host``.
        distinct_id: ``callable(user) -> str | None`` giving the distinct id of an
            authenticated ``scope["user"]``; by default ``user.identity``.
        person_properties: ``callable(user) -> Mapping | None`` giving person
            properties for that user; by default none.
        groups: ``callable(request) -> {group_type: group_key} | None``, the request's
            groups, called once per request when an event needs them; given a Starlette
            ``Request`` in Starlette and FastAPI, the ASGI scope in any other app.
        secret_key: key signing the anonymous-id cookie (``TrackerOptions.cookie_secret``).
        flush_timeout: seconds the lifespan shutdown waits for queued events to be sent.
        **options: any :class:`~posthog_web.web.tracker.TrackerOptions` field, by name.

    Without ``api_key`` and ``client`` (and no local inbox) it is disabled (one
    warning) and only passes requests through, with a no-op ``request.state.posthog``;
    while the ``posthog_events`` test fixture is active it records as if configured.
    Where events go is logged at start-up.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None = None,
        host: str | None = None,
        local_inbox: bool = False,
        client: Client | None = None,
        distinct_id: DistinctIdFn | None = None,
        person_properties: PersonPropertiesFn | None = None,
        groups: GroupsFn | None = None,
        secret_key: str | None = None,
        flush_timeout: float = 5.0,
        **options: Unpack[TrackerOptionArgs],
    ) -> None:
        tracker_options = self._tracker_options = shared_tracker_options(
            "PostHogMiddleware",
            options,
            api_key=api_key,
            client=client,
            secret_key=secret_key,
            local_inbox=local_inbox,
            callables={
                "distinct_id": distinct_id,
                "person_properties": person_properties,
                "groups": groups,
            },
        )
        if (
            isinstance(flush_timeout, bool)
            or not isinstance(flush_timeout, (int, float))
            or not flush_timeout >= 0
        ):
            raise ValueError("PostHogMiddleware: flush_timeout must be a number of seconds >= 0")

        self.app = app
        self.flush_timeout = float(flush_timeout)
        self._distinct_id = distinct_id
        self._person_properties = person_properties
        self._groups = groups
        self.tracker: Tracker | None = None
        self._recording_tracker: Tracker | None = None
        if client is None:
            client = middleware_client("PostHogMiddleware", api_key, host, local_inbox)
            if client is None:
                return
        self.tracker = Tracker(client, tracker_options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "http":
            tracker = self.tracker
            if tracker is None and recording.active is not None:
                tracker = self._recording_only()
            if tracker is not None and scope.get("method") != "HEAD":
                await Exchange(
                    self.app, self._user_identity, tracker, scope, send, self._groups
                ).run(receive)
            else:
                await run_skipped(self.app, scope, receive, send)
            return
        if scope_type == "lifespan" and self.tracker is not None:
            await Lifespan(self.app, self.tracker.client, self.flush_timeout).run(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)

    def _recording_only(self) -> Tracker:
        # Built on first use: an app that is never tested with the fixture never pays.
        tracker = self._recording_tracker
        if tracker is None:
            tracker = Tracker(recording_only_client(), self._tracker_options)
            self._recording_tracker = tracker
        return tracker

    def _user_identity(self, user: Any) -> tuple[str | None, Mapping[str, Any] | None]:
        """The distinct id and person properties of ``scope["user"]`` (``None`` if anonymous)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return None, None
        distinct_id = self._distinct_id(user) if self._distinct_id else user.identity
        if distinct_id is None:
            return None, None
        properties = self._person_properties(user) if self._person_properties else None
        return str(distinct_id), properties
