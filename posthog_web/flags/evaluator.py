"""The flags seam: one :class:`FlagEvaluator` per client evaluates a flag locally when
it can and remotely when it must, within one deadline per call.

The request helper wraps :meth:`FlagEvaluator.evaluate` / :meth:`evaluate_all` in its
per-request cache; the client's public methods add validation and events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from posthog_web.flags import overrides
from posthog_web.flags.definitions import Definitions
from posthog_web.flags.http import HTTPClient
from posthog_web.flags.local import evaluate, prepared
from posthog_web.flags.model import Flag, log_once
from posthog_web.flags.poller import DefinitionsPoller, DefinitionsStore
from posthog_web.flags.reasons import UNSUPPORTED_DEFINITION, Undecided
from posthog_web.flags.remote import RemoteEvaluator
from posthog_web.flags.results import FlagResult, local_result, remote_result

_EMPTY: Mapping[str, Any] = {}


def _prepared(
    defs: Definitions | None,
    distinct_id: str,
    person_properties: Mapping[str, Any],
    groups: Mapping[str, Any],
    group_properties: Mapping[str, Mapping[str, Any]],
) -> tuple[Mapping[str, Any], Mapping[str, Mapping[str, Any]]]:
    if groups or defs is None or defs.reads_distinct_id:
        return prepared(distinct_id, person_properties, groups, group_properties)
    return person_properties, _EMPTY  # no filter reads distinct_id: no copy needed


class FlagEvaluator:
    """Local evaluation from polled definitions (with a secret key), else remote.

    Args:
        host: the PostHog base URL.
        api_key: the project token.
        secret_key: enables local evaluation; only ever a Bearer token.
        poll_interval: seconds between definitions polls.
        timeout: the most any one call waits: for the definitions' first load (half of
            it, and only until one such wait expired), then for ``/flags``.
        network: False keeps every call local and offline (disabled or blocked client).
        store: shares definitions across processes.
    """

    def __init__(
        self,
        *,
        host: str,
        api_key: str,
        secret_key: str | None,
        poll_interval: float,
        timeout: float,
        network: bool = True,
        store: DefinitionsStore | None = None,
    ) -> None:
        self.timeout = timeout
        self._network = network
        http = HTTPClient()
        self.remote = RemoteEvaluator(host, api_key, http)
        self.poller: DefinitionsPoller | None = None
        self._fixed: Definitions | None = None
        if secret_key is not None and network:
            self.poller = DefinitionsPoller(host, api_key, secret_key, poll_interval, http, store)

    def __repr__(self) -> str:
        mode = "local" if self.poller is not None else "remote"
        return f"<FlagEvaluator {mode}>"

    def definitions(self, wait: float = 0.0) -> Definitions | None:
        """The current definitions (starting the poller), waiting up to ``wait`` s."""
        if self._fixed is not None:
            return self._fixed
        return None if self.poller is None else self.poller.get(wait)

    def set_definitions(self, definitions: Definitions | dict[str, Any] | None) -> None:
        """Evaluate from these definitions (a ``/flags/definitions`` body) instead of
        polling: for tests, fixtures and a local flags file. None resumes polling."""
        if isinstance(definitions, dict):
            definitions = Definitions.from_json(definitions)
        self._fixed = definitions

    def evaluate(
        self,
        key: str,
        distinct_id: str,
        person_properties: Mapping[str, Any] = _EMPTY,
        groups: Mapping[str, Any] = _EMPTY,
        group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY,
        only_evaluate_locally: bool = False,
        device_id: str | None = None,
        anon_distinct_id: str | None = None,
    ) -> FlagResult:
        """Evaluate one flag (arguments already validated); never raises."""
        forced = overrides.current
        if forced is not None:
            return forced.get(key) or overrides.missing(key)
        start = 0.0  # set when the definitions wait can take part of the budget
        defs = self._fixed
        poller = self.poller
        if defs is None and poller is not None:
            if poller.ready:
                defs = poller.definitions
            else:
                start = time.monotonic()
                defs = poller.get(self.timeout / 2)
        if defs is None:
            flag = None
        else:
            # Only pure flags are kept: a kept value needs no look at the flag.
            reused: FlagResult | None = defs.recent.get(key, distinct_id, person_properties)
            if reused is not None:
                return reused
            flag = defs.by_key.get(key)
        person, group_props = _prepared(
            defs, distinct_id, person_properties, groups, group_properties
        )
        undecided = None
        if defs is not None and flag is not None:
            try:
                value = evaluate(defs, flag, distinct_id, person, groups, group_props, device_id)
            except Undecided as exc:
                undecided = exc.reason
            except Exception as error:
                undecided = _engine_failed(flag, error)
            else:
                result = local_result(defs, key, value)
                defs.recent.put(key, distinct_id, person_properties, result)
                return result
        if only_evaluate_locally or not self._network:
            return FlagResult(key, None, undecided=undecided or "flag_missing")
        answer = self.remote.evaluate(
            distinct_id,
            person_properties=person_properties,
            groups=groups,
            group_properties=group_props,
            keys=[key],
            timeout=self.timeout - (time.monotonic() - start if start else 0.0),
            anon_distinct_id=anon_distinct_id,
            device_id=device_id,
        )
        return remote_result(key, answer, undecided)

    def evaluate_all(
        self,
        distinct_id: str,
        person_properties: Mapping[str, Any] = _EMPTY,
        groups: Mapping[str, Any] = _EMPTY,
        group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY,
        only_evaluate_locally: bool = False,
        device_id: str | None = None,
        anon_distinct_id: str | None = None,
    ) -> dict[str, FlagResult]:
        """Evaluate every flag: locally where possible, then one ``/flags`` call for the
        rest (only those keys); locally decided values are kept."""
        forced = overrides.current
        if forced is not None:
            return dict(forced)
        deadline = time.monotonic() + self.timeout
        defs = self.definitions(self.timeout / 2)
        person, group_props = _prepared(
            defs, distinct_id, person_properties, groups, group_properties
        )
        results: dict[str, FlagResult] = {}
        undecided: dict[str, str] = {}
        if defs is not None:
            for flag in defs.flags:
                try:
                    value = evaluate(
                        defs, flag, distinct_id, person, groups, group_props, device_id
                    )
                except Undecided as exc:
                    undecided[flag.key] = exc.reason
                    results.pop(flag.key, None)
                except Exception as error:
                    undecided[flag.key] = _engine_failed(flag, error)
                    results.pop(flag.key, None)
                else:
                    results[flag.key] = local_result(defs, flag.key, value)
                    undecided.pop(flag.key, None)
        if only_evaluate_locally or not self._network or (defs is not None and not undecided):
            for key, reason in undecided.items():
                results[key] = FlagResult(key, None, undecided=reason)
            return results
        answer = self.remote.evaluate(
            distinct_id,
            person_properties=person_properties,
            groups=groups,
            group_properties=group_props,
            keys=None if defs is None else list(undecided),
            timeout=deadline - time.monotonic(),
            anon_distinct_id=anon_distinct_id,
            device_id=device_id,
        )
        for key in answer.flags:
            if key not in results:
                results[key] = remote_result(key, answer, undecided.get(key))
        for key, reason in undecided.items():
            if key not in results:
                results[key] = remote_result(key, answer, reason)
        return results

    def ready(self) -> bool:
        """True when a call can run without waiting for the first definitions load."""
        poller = self.poller
        return (
            self._fixed is not None
            or poller is None
            or poller.ready
            or overrides.current is not None
        )

    async def aevaluate(
        self,
        key: str,
        distinct_id: str,
        person_properties: Mapping[str, Any] = _EMPTY,
        groups: Mapping[str, Any] = _EMPTY,
        group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY,
        only_evaluate_locally: bool = False,
        device_id: str | None = None,
        anon_distinct_id: str | None = None,
    ) -> FlagResult:
        """:meth:`evaluate` for async code: local evaluation runs inline; a wait for the
        first load or a ``/flags`` call runs in a worker thread, off the event loop."""
        if self.ready():
            local = self.evaluate(
                key, distinct_id, person_properties, groups, group_properties, True, device_id
            )
            if local.value is not None or only_evaluate_locally or not self._network:
                return local
        return await asyncio.to_thread(
            self.evaluate,
            key,
            distinct_id,
            person_properties,
            groups,
            group_properties,
            only_evaluate_locally,
            device_id,
            anon_distinct_id,
        )

    async def aevaluate_all(
        self,
        distinct_id: str,
        person_properties: Mapping[str, Any] = _EMPTY,
        groups: Mapping[str, Any] = _EMPTY,
        group_properties: Mapping[str, Mapping[str, Any]] = _EMPTY,
        only_evaluate_locally: bool = False,
        device_id: str | None = None,
        anon_distinct_id: str | None = None,
    ) -> dict[str, FlagResult]:
        """:meth:`evaluate_all` for async code (see :meth:`aevaluate`)."""
        args = (distinct_id, person_properties, groups, group_properties)
        if self.ready():
            local = self.evaluate_all(*args, True, device_id)
            if (
                only_evaluate_locally
                or not self._network
                or (
                    self.definitions() is not None
                    and all(r.value is not None for r in local.values())
                )
            ):
                return local
        return await asyncio.to_thread(
            self.evaluate_all, *args, only_evaluate_locally, device_id, anon_distinct_id
        )

    def shutdown(self) -> None:
        """Stop the poller."""
        if self.poller is not None:
            self.poller.stop()


def _engine_failed(flag: Flag, error: Exception) -> str:
    # A bug in local evaluation must not break the app: logged once, the server decides.
    log_once(flag.key, f"local evaluation failed ({type(error).__name__}: {error})")
    return UNSUPPORTED_DEFINITION
