"""The client's feature flag methods, with posthog-python's names and arguments."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from posthog_web import events as ev
from posthog_web.flags.evaluator import FlagEvaluator
from posthog_web.flags.exposure import EVENT_FLAG_CALLED, CalledLog, called_properties
from posthog_web.flags.results import FlagResult

logger = logging.getLogger(__name__)

Groups = Mapping[str, str | int]
GroupProperties = Mapping[str, Mapping[str, Any]]


class FlagsMixin:
    """Feature flag methods for :class:`~posthog_web.Client` (see docs/flags.md)."""

    flags: FlagEvaluator
    _called: CalledLog

    def capture(  # implemented by Client
        self,
        event: str,
        *,
        distinct_id: str,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        uuid: object = None,
    ) -> int | None:
        raise NotImplementedError

    def feature_enabled(
        self,
        key: str,
        *,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups | None = None,
        group_properties: GroupProperties | None = None,
        only_evaluate_locally: bool = False,
        send_event: bool = True,
    ) -> bool:
        """Whether the flag is on (a variant counts) for this person; False when the
        flag is unknown or cannot be evaluated."""
        value = self.get_feature_flag(
            key,
            distinct_id=distinct_id,
            person_properties=person_properties,
            groups=groups,
            group_properties=group_properties,
            only_evaluate_locally=only_evaluate_locally,
            send_event=send_event,
        )
        return bool(value)

    def get_feature_flag(
        self,
        key: str,
        *,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups | None = None,
        group_properties: GroupProperties | None = None,
        only_evaluate_locally: bool = False,
        send_event: bool = True,
    ) -> bool | str | None:
        """The flag's value: ``True``/``False``, a variant key, or None when it could not
        be evaluated. Sends ``$feature_flag_called`` once per (person, flag, value) per
        process unless ``send_event=False``."""
        send = _flag(send_event, "send_event")
        result = self._flag_result(
            key, distinct_id, person_properties, groups, group_properties, only_evaluate_locally
        )
        if send:
            self._report(result, distinct_id, groups or {})
        return result.value

    def get_feature_flag_payload(
        self,
        key: str,
        *,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups | None = None,
        group_properties: GroupProperties | None = None,
        only_evaluate_locally: bool = False,
    ) -> Any:
        """The payload (decoded JSON) of the flag's value for this person, or None.
        Sends no event."""
        result = self._flag_result(
            key, distinct_id, person_properties, groups, group_properties, only_evaluate_locally
        )
        return result.payload if result.value is not None else None

    def get_all_flags(
        self,
        *,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups | None = None,
        group_properties: GroupProperties | None = None,
        only_evaluate_locally: bool = False,
    ) -> dict[str, bool | str]:
        """Every flag's value for this person (flags that could not be evaluated are
        left out). Sends no event."""
        results = self._all_results(
            distinct_id, person_properties, groups, group_properties, only_evaluate_locally
        )
        return {key: r.value for key, r in results.items() if r.value is not None}

    def get_all_flags_and_payloads(
        self,
        *,
        distinct_id: str,
        person_properties: Mapping[str, Any] | None = None,
        groups: Groups | None = None,
        group_properties: GroupProperties | None = None,
        only_evaluate_locally: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """``{"featureFlags": {key: value}, "featureFlagPayloads": {key: JSON text}}``,
        the shape posthog-js's ``bootstrap`` takes (a payload that is not valid JSON is
        None). Sends no event."""
        results = self._all_results(
            distinct_id, person_properties, groups, group_properties, only_evaluate_locally
        )
        values = {key: r.value for key, r in results.items() if r.value is not None}
        payloads = {
            key: _json_text_or_none(r.payload_text)
            for key, r in results.items()
            if r.value is not None and r.payload_text is not None
        }
        return {"featureFlags": values, "featureFlagPayloads": payloads}

    # Internals ---------------------------------------------------------------------

    def _flag_result(
        self,
        key: object,
        distinct_id: object,
        person_properties: object,
        groups: object,
        group_properties: object,
        only_evaluate_locally: object,
    ) -> FlagResult:
        if not isinstance(key, str):
            raise TypeError(f"key must be a str, not {type(key).__name__}")
        if not key:
            raise ValueError("key must not be empty")
        args = _validated(distinct_id, person_properties, groups, group_properties)
        local = _flag(only_evaluate_locally, "only_evaluate_locally")
        return self.flags.evaluate(key, *args, only_evaluate_locally=local)

    def _all_results(
        self,
        distinct_id: object,
        person_properties: object,
        groups: object,
        group_properties: object,
        only_evaluate_locally: object,
    ) -> dict[str, FlagResult]:
        args = _validated(distinct_id, person_properties, groups, group_properties)
        local = _flag(only_evaluate_locally, "only_evaluate_locally")
        return self.flags.evaluate_all(*args, only_evaluate_locally=local)

    def _report(self, result: FlagResult, distinct_id: str, groups: Groups) -> None:
        if not self._called.first_time(distinct_id, result.key, result.value, groups):
            return
        try:
            self.capture(
                EVENT_FLAG_CALLED,
                distinct_id=distinct_id,
                properties=called_properties(result, groups),
            )
        except Exception:  # a flag read never fails because its event could not go
            logger.warning("posthog-web: $feature_flag_called could not be sent", exc_info=True)


def _json_text_or_none(text: str) -> str | None:
    # As posthog-python: a payload that is not valid JSON is listed as None.
    try:
        json.loads(text)
    except ValueError:
        return None
    return text


def _flag(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{field} must be a bool, not {type(value).__name__}")
    return value


_NONE: Mapping[str, Any] = {}


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if value is None:
        return _NONE
    if type(value) is dict:
        for name in value:
            if type(name) is not str:
                raise TypeError(f"{field} keys must be str, not {type(name).__name__}")
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{field} must be a mapping or None, not {type(value).__name__}")
    for name in value:
        if not isinstance(name, str):
            raise TypeError(f"{field} keys must be str, not {type(name).__name__}")
    return value


def _validated(
    distinct_id: object, person_properties: object, groups: object, group_properties: object
) -> tuple[str, Mapping[str, Any], Groups, GroupProperties]:
    did = ev.validate_distinct_id(distinct_id)
    person = _mapping(person_properties, "person_properties")
    if groups is None and group_properties is None:
        return did, person, _NONE, _NONE
    group_keys = _mapping(groups, "groups")
    for name, group_key in group_keys.items():
        if isinstance(group_key, bool) or not isinstance(group_key, (str, int)):
            raise TypeError(
                f"groups[{name!r}] must be a str or an int, not {type(group_key).__name__}"
            )
    per_group = _mapping(group_properties, "group_properties")
    for name, props in per_group.items():
        _mapping(props, f"group_properties[{name!r}]")
    return did, person, group_keys, per_group


def validate_secret_key(value: object) -> str | None:
    """The stripped ``flags_secret_key``, or raise naming it (never echoing the key)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"flags_secret_key must be a str or None, not {type(value).__name__}")
    key = value.strip()
    if not key:
        raise ValueError("flags_secret_key is empty; pass None to evaluate flags remotely")
    if key.startswith("phc_"):
        raise ValueError(
            "flags_secret_key is a project API key (phc_...), which cannot read flag "
            "definitions; use a personal API key (phx_...) or the feature flags secure key"
        )
    if not key.isascii() or any(c in key for c in "\r\n\x00"):
        raise ValueError("flags_secret_key is not a valid key")
    return key
