"""Keeping an ``$exception`` event under PostHog's size limit by trimming the least useful."""

from __future__ import annotations

from typing import Any

from posthog_web import events as ev
from posthog_web.errors.frames import marker_frame, omitted_by


def fit_to_size(props: dict[str, Any], limit: int) -> bool:
    """Trim ``props``'s exception list in place until it encodes to ``limit`` bytes or less.

    Drops, in turn: code variables, source context, older frames (halving), the chain
    after the first exception, and the tail of long messages. False if still too big.
    """
    entries: list[dict[str, Any]] = props[ev.PROP_EXCEPTION_LIST]
    if _size(props) <= limit:
        return True
    for keys in (("code_variables",), ("pre_context", "context_line", "post_context")):
        _drop_frame_keys(entries, keys)
        if _size(props) <= limit:
            return True
    while any(len(_frames(entry)) > 2 for entry in entries):
        for entry in entries:
            _halve_frames(entry)
        if _size(props) <= limit:
            return True
    del entries[1:]
    if _size(props) <= limit:
        return True
    entries[0]["value"] = str(entries[0].get("value", ""))[:1024]
    return _size(props) <= limit


def _size(props: dict[str, Any]) -> int:
    return len(ev.encode_json(props))


def _frames(entry: dict[str, Any]) -> list[dict[str, Any]]:
    stacktrace = entry.get("stacktrace")
    return stacktrace["frames"] if stacktrace else []


def _drop_frame_keys(entries: list[dict[str, Any]], keys: tuple[str, ...]) -> None:
    for entry in entries:
        for frame in _frames(entry):
            for key in keys:
                frame.pop(key, None)


def _halve_frames(entry: dict[str, Any]) -> None:
    frames = _frames(entry)
    if len(frames) <= 2:
        return
    dropped = omitted_by(frames[0])
    if dropped:
        frames = frames[1:]
    keep = max(1, len(frames) // 2)
    dropped += len(frames) - keep
    entry["stacktrace"]["frames"] = [marker_frame(dropped), *frames[-keep:]]
