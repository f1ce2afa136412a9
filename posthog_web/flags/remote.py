"""Remote evaluation: PostHog's ``/flags`` endpoint, one attempt within the budget, and
a circuit breaker so an outage costs each call nothing after the first failures."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from posthog_web.flags.http import HTTPClient, HTTPFailure

logger = logging.getLogger(__name__)

FAILURES_BEFORE_OPEN = 2
MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class RemoteFlag:
    """One flag as the server evaluated it (``value`` None: the server failed it)."""

    value: bool | str | None
    payload_text: str | None = None
    id: int | None = None
    version: int | None = None
    reason: str | None = None
    has_experiment: bool | None = None


@dataclass(frozen=True, slots=True)
class RemoteAnswer:
    """The flags of one ``/flags`` call; ``error`` as in ``$feature_flag_error``."""

    flags: Mapping[str, RemoteFlag] = field(default_factory=dict)
    error: str | None = None
    request_id: str | None = None
    evaluated_at: int | None = None


def payload_text(raw: Any) -> str | None:
    """A payload's JSON text: a string is JSON text already; other values are encoded."""
    if raw is None or isinstance(raw, str):
        return raw
    return json.dumps(raw, separators=(",", ":"))


class RemoteEvaluator:
    """Calls ``POST {host}/flags/?v=2`` for one project.

    Args:
        host: the PostHog base URL.
        api_key: the project token, sent in the body as ``token``.
        http: the HTTP client.
    """

    def __init__(self, host: str, api_key: str, http: HTTPClient) -> None:
        self._url = f"{host}/flags/?v=2"
        self._token = api_key
        self._http = http
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self.requests = 0

    def __repr__(self) -> str:
        return f"<RemoteEvaluator {self._url!r}>"

    def evaluate(
        self,
        distinct_id: str,
        *,
        person_properties: Mapping[str, Any],
        groups: Mapping[str, Any],
        group_properties: Mapping[str, Mapping[str, Any]],
        keys: Sequence[str] | None,
        timeout: float,
        anon_distinct_id: str | None = None,
        device_id: str | None = None,
    ) -> RemoteAnswer:
        """Evaluate ``keys`` (None: every flag); never raises, never waits past ``timeout``."""
        if timeout <= 0 or not self._may_try():
            return RemoteAnswer(error="circuit_open" if timeout > 0 else "timeout")
        body: dict[str, Any] = {
            "token": self._token,
            "distinct_id": distinct_id,
            "person_properties": dict(person_properties),
            "groups": dict(groups),
            "group_properties": {k: dict(v) for k, v in group_properties.items()},
            "geoip_disable": True,
        }
        if keys is not None:
            body["flag_keys_to_evaluate"] = list(keys)
        if anon_distinct_id is not None:
            body["$anon_distinct_id"] = anon_distinct_id
        if device_id is not None:
            body["$device_id"] = device_id
        self.requests += 1
        try:
            answer = self._http.request("POST", self._url, timeout=timeout, body=body)
        except HTTPFailure as failure:
            self._failed(failure.kind)
            return RemoteAnswer(error=failure.kind)
        if answer.status != 200 or not isinstance(answer.body, dict):
            self._failed(f"HTTP {answer.status}")
            return RemoteAnswer(error=f"api_error_{answer.status}")
        self._succeeded()
        return parse_answer(answer.body)

    def _may_try(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now < self._open_until:
                return False
            if self._failures >= FAILURES_BEFORE_OPEN:
                # Half open: this call probes; the others keep answering at once.
                self._open_until = now + self._backoff()
            return True

    def _backoff(self) -> float:
        return float(min(MAX_BACKOFF, 2.0 ** (self._failures - FAILURES_BEFORE_OPEN)))

    def _failed(self, what: str) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= FAILURES_BEFORE_OPEN:
                backoff = self._backoff()
                self._open_until = time.monotonic() + backoff
                logger.warning(
                    "posthog-web: /flags failed (%s); remote flags answer at once for %.0f s",
                    what,
                    backoff,
                )

    def _succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._open_until = 0.0


def parse_answer(body: Mapping[str, Any]) -> RemoteAnswer:
    """Read a ``/flags`` answer: v2/v4 ``flags`` records, or legacy ``featureFlags``."""
    request_id = body.get("requestId") if isinstance(body.get("requestId"), str) else None
    evaluated_at = body.get("evaluatedAt") if isinstance(body.get("evaluatedAt"), int) else None
    quota = body.get("quotaLimited")
    if isinstance(quota, list) and "feature_flags" in quota:
        return RemoteAnswer(error="quota_limited", request_id=request_id)
    errors = body.get("errorsWhileComputingFlags") is True
    flags: dict[str, RemoteFlag] = {}
    records = body.get("flags")
    if isinstance(records, dict):
        for key, record in records.items():
            if isinstance(record, dict):
                flags[str(key)] = _record(record)
    else:
        values = body.get("featureFlags")
        payloads = body.get("featureFlagPayloads")
        payloads = payloads if isinstance(payloads, dict) else {}
        if isinstance(values, dict):
            for key, value in values.items():
                if isinstance(value, (bool, str)):
                    flags[str(key)] = RemoteFlag(value, payload_text(payloads.get(key)))
    return RemoteAnswer(
        flags,
        "errors_while_computing_flags" if errors else None,
        request_id,
        evaluated_at,
    )


def _record(record: Mapping[str, Any]) -> RemoteFlag:
    metadata = record.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    reason = record.get("reason")
    description = reason.get("description") if isinstance(reason, dict) else None
    common: dict[str, Any] = {
        "id": metadata.get("id") if isinstance(metadata.get("id"), int) else None,
        "version": metadata.get("version") if isinstance(metadata.get("version"), int) else None,
        "reason": description if isinstance(description, str) else None,
        "has_experiment": metadata.get("has_experiment")
        if isinstance(metadata.get("has_experiment"), bool)
        else None,
    }
    if record.get("failed") is True:
        return RemoteFlag(None, **common)
    text = payload_text(metadata.get("payload"))
    if "value" in record:  # v4: a typed value
        value = record["value"]
        if value is None or isinstance(value, (bool, str)):
            return RemoteFlag(value if value is not None else False, text, **common)
        return RemoteFlag(True, payload_text(value), **common)
    enabled = record.get("enabled") is True
    variant = record.get("variant")
    value_v2: bool | str = variant if enabled and isinstance(variant, str) and variant else enabled
    return RemoteFlag(value_v2, text, **common)
