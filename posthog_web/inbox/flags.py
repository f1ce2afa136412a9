"""The inbox's feature flags: the definitions endpoint (Bearer check, ETag), ``/flags``
evaluated by posthog-web's own engine, and the ``/api/flags`` summary with exposures.

The flags come from a file (reloaded when its modification time changes) or a dict; see
docs/inbox.md, "Feature flags".
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from posthog_web.flags.definitions import Definitions
from posthog_web.flags.local import evaluate, payload_key, prepared
from posthog_web.flags.reasons import Undecided
from posthog_web.inbox.flags_file import FlagsFileError, load_flags

logger = logging.getLogger(__name__)

#: The secret key the inbox accepts when none is configured (``--flags-secret-key``).
DEFAULT_SECRET_KEY = "phs_posthog_web_inbox"
DEFINITIONS_ROUTES = frozenset({"/flags/definitions", "/api/feature_flag/local_evaluation"})
FLAG_CALLED = "$feature_flag_called"

Answer = tuple[int, Any, list[tuple[str, str]]]


class InboxFlags:
    """The flags one inbox serves.

    Args:
        source: a flags file path (reloaded when its mtime changes), a parsed flags
            value (dict or list, short format or a raw local-evaluation answer), or None
            for no flags.
        secret_key: the Bearer token the definitions endpoint accepts.

    Raises FlagsFileError when the source is not valid.
    """

    def __init__(
        self,
        source: str | Path | Mapping[str, Any] | list[Any] | None = None,
        secret_key: str = DEFAULT_SECRET_KEY,
    ) -> None:
        if not isinstance(secret_key, str) or not secret_key:
            raise ValueError("flags_secret_key must be a non-empty string")
        self.secret_key = secret_key
        self._path = Path(source) if isinstance(source, (str, Path)) else None
        self._lock = threading.Lock()
        self._mtime: tuple[int, int] | None = None
        self.error: str | None = None  # why the latest reload failed (the last good set stays)
        body = load_flags(source) if source is not None else _EMPTY_BODY
        if self._path is not None:
            self._mtime = _mtime(self._path)
        self._install(body)

    def _install(self, body: dict[str, Any]) -> None:
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        etag = '"' + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] + '"'
        # One tuple, swapped at once, so a request never mixes two versions.
        self._current = (body, etag, Definitions.from_json(body, etag))

    def current(self) -> tuple[dict[str, Any], str, Definitions]:
        """The definitions body, its ETag and the compiled set, reloading a changed file."""
        path = self._path
        if path is not None:
            mtime = _mtime(path)
            if mtime != self._mtime:
                with self._lock:
                    if mtime != self._mtime:
                        self._mtime = mtime
                        self._reload(path)
        return self._current

    def _reload(self, path: Path) -> None:
        try:
            body = load_flags(path)
        except FlagsFileError as exc:
            self.error = str(exc)
            logger.error("inbox: the flags file was not reloaded: %s", exc)
            return
        self.error = None
        self._install(body)
        logger.info("inbox: reloaded %d flags from %s", len(body["flags"]), path)

    # -- GET /flags/definitions, /api/feature_flag/local_evaluation ----------------------------

    def definitions_answer(self, authorization: str | None, if_none_match: str | None) -> Answer:
        """The definitions endpoint's status, JSON body (None: no body) and headers."""
        if not authorization or not authorization.startswith("Bearer "):
            return 401, _detail("Authentication credentials were not provided."), []
        if authorization[len("Bearer ") :].strip() != self.secret_key:
            return 403, _detail("The secret key is not valid for this project."), []
        body, etag, _ = self.current()
        headers = [("ETag", etag)]
        if if_none_match is not None and etag in _etags(if_none_match):
            return 304, None, headers
        return 200, body, headers

    # -- POST /flags, /decide ------------------------------------------------------------------

    def flags_answer(self, request: Any) -> dict[str, Any]:
        """The ``/flags`` answer (v2 records plus the legacy maps) for a decoded body;
        without a distinct id there are no flags."""
        request = request if isinstance(request, dict) else {}
        _, _, defs = self.current()
        records: dict[str, Any] = {}
        distinct_id = _text(request.get("distinct_id", request.get("$distinct_id")))
        if distinct_id is not None and request.get("disable_flags") is not True:
            for flag in defs.flags:
                if _wanted(flag.key, request):
                    records[flag.key] = self._record(defs, flag.key, distinct_id, request)
        return {
            "flags": records,
            "featureFlags": {k: r["variant"] or r["enabled"] for k, r in records.items()},
            "featureFlagPayloads": {
                k: r["metadata"]["payload"]
                for k, r in records.items()
                if r["enabled"] and r["metadata"]["payload"] is not None
            },
            "errorsWhileComputingFlags": False,
            "requestId": str(uuid.uuid4()),
            "evaluatedAt": int(time.time() * 1000),
        }

    def _record(
        self, defs: Definitions, key: str, distinct_id: str, request: Mapping[str, Any]
    ) -> dict[str, Any]:
        flag = defs.by_key[key]
        person = _mapping(request.get("person_properties", request.get("$properties")))
        groups = _mapping(request.get("groups", request.get("$groups")))
        groups = {k: v for k, v in groups.items() if _text(v) is not None}
        group_props = {
            k: v
            for k, v in _mapping(
                request.get("group_properties", request.get("$group_properties"))
            ).items()
            if isinstance(v, dict)
        }
        device_id = _text(request.get("device_id", request.get("$device_id")))
        person_props, group_values = prepared(distinct_id, person, groups, group_props)
        description: str | None
        try:
            value = evaluate(defs, flag, distinct_id, person_props, groups, group_values, device_id)
        except Undecided as exc:
            # The inbox keeps no person profiles: what PostHog would look up is absent.
            value, code, description = False, "no_condition_match", f"Undecided: {exc.reason}"
        except Exception as exc:  # an engine bug must not fail the whole answer
            logger.exception("inbox: evaluating flag %r failed", key)
            value, code, description = False, "no_condition_match", f"Failed: {exc!r}"
        else:
            if not flag.active:
                code, description = "flag_disabled", "Feature flag is disabled"
            elif value is False:
                code, description = "no_condition_match", "No matching condition set"
            else:
                code, description = "condition_match", "Matched a condition set"
        payload = flag.payloads.get(payload_key(value)) if value is not False else None
        return {
            "key": key,
            "enabled": value is not False,
            "variant": value if isinstance(value, str) else None,
            "reason": {"code": code, "condition_index": None, "description": description},
            "metadata": {
                "id": flag.id,
                "version": flag.version,
                "payload": _decoded(payload),
                "description": None,
            },
        }

    # -- GET /api/flags ------------------------------------------------------------------------

    def summary(self, exposures: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The flags view's data: each definition, and the stored ``$feature_flag_called``
        events counted per flag and value (a variant key, or ``"true"``/``"false"``/``"null"``),
        with distinct persons."""
        body, etag, defs = self.current()
        counts: dict[str, dict[str, int]] = {}
        persons: dict[str, set[str]] = {}
        for event in exposures:
            props = event.get("properties") or {}
            key = props.get("$feature_flag")
            if not isinstance(key, str):
                continue
            response = props.get("$feature_flag_response")
            value = response if isinstance(response, str) else json.dumps(response)
            per_flag = counts.setdefault(key, {})
            per_flag[value] = per_flag.get(value, 0) + 1
            persons.setdefault(key, set()).add(str(event.get("distinct_id")))
        keys = [flag.key for flag in defs.flags] + sorted(set(counts) - set(defs.by_key))
        return {
            "etag": etag,
            "source": str(self._path) if self._path is not None else None,
            "error": self.error,
            "flags": [
                {
                    "key": key,
                    "defined": key in defs.by_key,
                    "definition": next((f for f in body["flags"] if f.get("key") == key), None),
                    "exposures": sum(counts.get(key, {}).values()),
                    "persons": len(persons.get(key, ())),
                    "by_value": counts.get(key, {}),
                }
                for key in keys
            ],
        }


_EMPTY_BODY: dict[str, Any] = {"flags": [], "group_type_mapping": {}, "cohorts": {}}


def _mtime(path: Path) -> tuple[int, int] | None:
    # The size too: two quick edits can share a coarse modification time.
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}


def _detail(text: str) -> dict[str, Any]:
    return {"type": "authentication_error", "code": "not_authenticated", "detail": text}


def _wanted(key: str, request: Mapping[str, Any]) -> bool:
    keys = request.get("flag_keys_to_evaluate", request.get("flag_keys"))
    return not isinstance(keys, list) or key in keys


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def _decoded(payload: Any) -> Any:
    # Definitions carry payloads as JSON text; PostHog's /flags answers the JSON value.
    if isinstance(payload, str):
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload
