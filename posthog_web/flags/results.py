"""What a flag evaluation returns, built from a local value or a ``/flags`` record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.local import payload_key
from posthog_web.flags.remote import RemoteAnswer, RemoteFlag, payload_text

LOCAL_REASON = "Evaluated locally"


@dataclass(frozen=True, slots=True)
class FlagResult:
    """One flag's value for one person, and where it came from.

    ``value`` is ``True``/``False``/a variant key, or None when it could not be
    evaluated (then ``error`` or ``undecided`` says why). ``payload_text`` is the
    payload's JSON text (for bootstrapping posthog-js); :attr:`payload` decodes it.
    """

    key: str
    value: bool | str | None
    payload_text: str | None = None
    locally_evaluated: bool = False
    reason: str | None = None
    id: int | None = None
    version: int | None = None
    has_experiment: bool | None = None
    error: str | None = None
    undecided: str | None = None
    request_id: str | None = None
    evaluated_at: int | None = None

    @property
    def payload(self) -> Any:
        """The payload as JSON-decoded, a new object on each read; None when there is
        none or it is not valid JSON (as posthog-python)."""
        if self.payload_text is None:
            return None
        try:
            return json.loads(self.payload_text)
        except ValueError:
            return None


def local_result(defs: Definitions, key: str, value: bool | str) -> FlagResult:
    # A flag has few values: each result is built once per definitions set.
    cached: FlagResult | None = defs.results.get((key, value))
    if cached is not None and type(cached.value) is type(value):
        return cached
    flag = defs.by_key[key]
    result = FlagResult(
        key,
        value,
        payload_text(flag.payloads.get(payload_key(value))),
        locally_evaluated=True,
        reason=LOCAL_REASON,
        id=flag.id,
        version=flag.version,
        has_experiment=flag.has_experiment,
    )
    if len(defs.results) < 10_000:
        defs.results[(key, value)] = result
    return result


def remote_result(key: str, answer: RemoteAnswer, undecided: str | None) -> FlagResult:
    record: RemoteFlag | None = answer.flags.get(key)
    errors = [answer.error] if answer.error else []
    if record is None:
        if answer.error is None:
            errors.append("flag_missing")
        return FlagResult(key, None, error=",".join(errors), undecided=undecided)
    if record.value is None:
        errors.append("evaluation_failed")
    return FlagResult(
        key,
        record.value,
        record.payload_text,
        locally_evaluated=False,
        reason=record.reason,
        id=record.id,
        version=record.version,
        has_experiment=record.has_experiment,
        error=",".join(errors) or None,
        undecided=undecided,
        request_id=answer.request_id,
        evaluated_at=answer.evaluated_at,
    )
