"""Feature flags per request: :class:`FlagReader` answers the request helper's flag calls.

For the request's own visitor (the user, else the anonymous id its page views and
posthog-js use), with the person properties the integration knows, each flag is
evaluated at most once per request (:class:`~posthog_web.web.request_flags.RequestFlags`
in the context). A read sends ``$feature_flag_called`` with the request's context, once
per (distinct id, flag, value) per process, and the flags read go on every later event
of the request. The snippet's bootstrap gets the flags decided without a round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from posthog_web.flags.exposure import EVENT_FLAG_CALLED, called_properties
from posthog_web.flags.results import FlagResult
from posthog_web.web.context import RequestContext
from posthog_web.web.emitter import Emitter
from posthog_web.web.groups import RequestGroups
from posthog_web.web.guard import guarded
from posthog_web.web.request_flags import RequestFlags
from posthog_web.web.visitor import Visitors

if TYPE_CHECKING:
    from posthog_web.client import Client

__all__ = ["FlagReader", "FlagSubject"]

_EMPTY: Mapping[str, Any] = {}
Groups = Mapping[str, str | int]
GroupProperties = Mapping[str, Mapping[str, Any]]
# No stable id (a cookieless visitor): a flag cannot be decided for this visitor.
_NO_VISITOR = "no_stable_distinct_id"


class FlagSubject:
    """Who a request's flags are evaluated for, and what is known about them."""

    __slots__ = (
        "anon_distinct_id",
        "device_id",
        "distinct_id",
        "group_properties",
        "groups",
        "person_properties",
    )

    def __init__(
        self,
        distinct_id: str,
        person_properties: Mapping[str, Any] = _EMPTY,
        groups: Mapping[str, str | int] = _EMPTY,
        group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY,
        device_id: str | None = None,
        anon_distinct_id: str | None = None,
    ) -> None:
        self.distinct_id = distinct_id
        self.person_properties = person_properties
        self.groups = groups
        self.group_properties = group_properties
        self.device_id = device_id
        self.anon_distinct_id = anon_distinct_id

    def args(self) -> tuple[str, Mapping[str, Any], Mapping[str, Any], Mapping[str, Any]]:
        """The first four arguments of ``FlagEvaluator.evaluate_all``."""
        return self.distinct_id, self.person_properties, self.groups, self.group_properties


class FlagReader:
    """The flag calls of the request helper; one per tracker.

    Args:
        client: the client whose ``flags`` evaluate and whose dedupe table says which
            ``$feature_flag_called`` were sent already.
        visitors: resolves the request's visitor.
        emitter: sends ``$feature_flag_called`` with the request's context.
        groups: the request's groups (and the properties ``group()`` gave them), which
            every flag read evaluates on.
    """

    def __init__(
        self, client: Client, visitors: Visitors, emitter: Emitter, groups: RequestGroups
    ) -> None:
        self._client = client
        self._visitors = visitors
        self._emitter = emitter
        self._groups = groups

    # --- one flag ---------------------------------------------------------------------

    def get(self, ctx: RequestContext, key: str, send_event: bool = True) -> FlagResult:
        """One flag for this request's visitor (and its groups), at most once per request."""
        # The request path's one flag read: kept flat (no FlagSubject, see subject()).
        state = self._state(ctx)
        distinct_id = state.distinct_id
        results = state.results
        result = results.get(key)
        if result is None:
            if ctx.groups or ctx.groups_source is not None or ctx.group_properties:
                groups, group_properties = self._groups_of(ctx)
            else:  # the usual request: no groups at all
                groups = group_properties = _EMPTY
            user_id = ctx.user_id
            anon_id = ctx.anon_id
            if user_id is not None:
                result = self._client.flags.evaluate(
                    key,
                    distinct_id,
                    ctx.person_properties or _EMPTY,
                    groups,
                    group_properties,
                    False,
                    None,
                    anon_id if anon_id != user_id else None,
                )
            elif self._visitors.is_cookieless(ctx):
                result = FlagResult(key, None, undecided=_NO_VISITOR)
            else:
                result = self._client.flags.evaluate(
                    key,
                    distinct_id,
                    _EMPTY,
                    groups,
                    group_properties,
                    False,
                    None if ctx.anonymous.identified else anon_id,
                    None,
                )
            results[key] = result
        state.mark_read(key, result)
        if send_event:
            self._report(ctx, distinct_id, result)
        return result

    async def aget(self, ctx: RequestContext, key: str, send_event: bool = True) -> FlagResult:
        """:meth:`get` for async code: a ``/flags`` call never blocks the event loop."""
        state = self._state(ctx)
        result = state.results.get(key)
        if result is None:
            subject = self.subject(ctx)
            if subject is None:
                result = FlagResult(key, None, undecided=_NO_VISITOR)
            else:
                result = await self._client.flags.aevaluate(
                    key,
                    *subject.args(),
                    device_id=subject.device_id,
                    anon_distinct_id=subject.anon_distinct_id,
                )
            state = self._state(ctx)  # the identity may have changed meanwhile
            result = state.results.setdefault(key, result)
        state.mark_read(key, result)
        if send_event:
            self._report(ctx, state.distinct_id, result)
        return result

    # --- every flag -------------------------------------------------------------------

    def all(self, ctx: RequestContext) -> dict[str, FlagResult]:
        """Every flag's result for this visitor (one evaluation per request)."""
        state = self._state(ctx)
        if state.all_evaluated != "remote":
            subject = self.subject(ctx)
            if subject is not None:
                results = self._client.flags.evaluate_all(
                    *subject.args(),
                    device_id=subject.device_id,
                    anon_distinct_id=subject.anon_distinct_id,
                )
                self._store_all(state, results, "remote")
        return self._read_all(state)

    async def aall(self, ctx: RequestContext) -> dict[str, FlagResult]:
        """:meth:`all` for async code."""
        state = self._state(ctx)
        if state.all_evaluated != "remote":
            subject = self.subject(ctx)
            if subject is not None:
                results = await self._client.flags.aevaluate_all(
                    *subject.args(),
                    device_id=subject.device_id,
                    anon_distinct_id=subject.anon_distinct_id,
                )
                state = self._state(ctx)
                self._store_all(state, results, "remote")
        return self._read_all(state)

    # --- the snippet ------------------------------------------------------------------

    def bootstrap(self, ctx: RequestContext) -> tuple[dict[str, Any], dict[str, Any]]:
        """posthog-js's ``featureFlags`` and ``featureFlagPayloads`` for this visitor.

        The flags this request read (whatever decided them) and every flag the loaded
        definitions decide locally; never a ``/flags`` call nor a wait for the
        definitions, and nothing counts as read. Payloads are JSON text, as posthog-js
        takes them.
        """
        state = self._state(ctx)
        evaluator = self._client.flags
        if not state.all_evaluated and evaluator.ready():
            subject = self.subject(ctx)
            if subject is not None:
                local = evaluator.evaluate_all(
                    *subject.args(), only_evaluate_locally=True, device_id=subject.device_id
                )
                self._store_all(state, local, True)
        values: dict[str, Any] = {}
        payloads: dict[str, Any] = {}
        for key, result in state.results.items():
            if result.value is None:
                continue
            values[key] = result.value
            if result.value is not False and result.payload_text is not None:
                payloads[key] = result.payload_text
        return values, payloads

    # --- the visitor ------------------------------------------------------------------

    def subject(self, ctx: RequestContext) -> FlagSubject | None:
        """Who this request's flags are for; None for a visitor without a stable id."""
        groups, group_properties = self._groups_of(ctx)
        visitors = self._visitors
        distinct_id = visitors.distinct_id(ctx)
        user_id = ctx.user_id
        if user_id is None and visitors.is_cookieless(ctx):
            return None
        anon_id = ctx.anon_id
        person = ctx.person_properties if user_id is not None else None
        return FlagSubject(
            distinct_id,
            person or _EMPTY,
            groups,
            group_properties,
            # posthog-js's $device_id is the anonymous id it was bootstrapped with (an id
            # posthog-js identified has a device id of its own, which the server lacks).
            device_id=anon_id if user_id is None and not ctx.anonymous.identified else None,
            # Experience continuity: the server keeps the anonymous visitor's variant.
            anon_distinct_id=anon_id if user_id is not None and anon_id != user_id else None,
        )

    # --- internals --------------------------------------------------------------------

    def _state(self, ctx: RequestContext) -> RequestFlags:
        distinct_id = self._visitors.distinct_id(ctx)
        state = ctx.flags
        if state is None:
            state = ctx.flags = RequestFlags(distinct_id)
        elif state.distinct_id != distinct_id:
            state.forget(distinct_id)
        return state

    def _groups_of(self, ctx: RequestContext) -> tuple[Groups, GroupProperties]:
        # Without a configured callable the groups are those group() added: no resolving.
        if ctx.groups_resolved or ctx.groups_source is None:
            groups = ctx.groups
        else:
            groups = self._groups.of(ctx)
        return groups or _EMPTY, ctx.group_properties or _EMPTY

    def _report(self, ctx: RequestContext, distinct_id: str, result: FlagResult) -> None:
        # $feature_flag_called once per (distinct id, flag, value, groups) per process.
        groups = ctx.groups or _EMPTY  # resolved by the evaluation (or an earlier one)
        # The client's own dedupe table, shared with its methods: one per process.
        if self._client._called.first_time(distinct_id, result.key, result.value, groups):
            # A read never loses its value because its event could not go (sync mode).
            with guarded("$feature_flag_called"):
                self._emitter.capture(ctx, EVENT_FLAG_CALLED, called_properties(result, groups))

    @staticmethod
    def _store_all(state: RequestFlags, results: dict[str, FlagResult], how: bool | str) -> None:
        known = state.results
        for key, result in results.items():
            # A flag already read keeps its result: one value per flag per request.
            if key not in known and (how == "remote" or result.value is not None):
                known[key] = result
        state.all_evaluated = how

    @staticmethod
    def _read_all(state: RequestFlags) -> dict[str, FlagResult]:
        results = {k: r for k, r in state.results.items() if r.value is not None}
        for key, result in results.items():
            state.mark_read(key, result)
        return results
