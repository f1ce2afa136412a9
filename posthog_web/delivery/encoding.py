"""Queued items to encoded events, batches of them up to 5 MiB, and the body that is posted.

Dicts queued side by side are encoded by one encoder call (a run); events from
``Client.capture()`` arrive encoded and get their timestamp and uuid here, in the sender
thread (``events.complete_events``).
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from posthog_web.delivery.counters import Counters
from posthog_web.events import (
    MAX_EVENT_BYTES,
    complete_event,
    complete_events,
    encode_json,
    now_iso,
)

logger = logging.getLogger(__name__)

MAX_BATCH_BYTES = 5 * 1024 * 1024
#: Queued dicts are encoded this many at a time, by one encoder call (a run).
RUN_LENGTH = 100

#: A queued event: complete and encoded, a dict (``Client.enqueue``, the integrations), or
#: encoded without timestamp and uuid, with the time of the call in Unix nanoseconds and
#: the timestamp given (``Client.capture()``; see ``events.complete_event``).
Item = bytes | dict[str, Any] | tuple[bytes, int, str | None]
_Part = tuple[bytes, list[dict[str, Any]] | None]


@dataclass(slots=True)
class Batch:
    """Encoded events to post together.

    ``parts`` are joined by commas into the body: each is one event, or, at an index in
    ``runs``, the events encoded from those dicts by one call.
    """

    parts: list[bytes] = field(default_factory=list)
    runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    count: int = 0
    size: int = 0

    @classmethod
    def of(cls, events: list[bytes]) -> Batch:
        return cls(events, {}, len(events), sum(len(event) + 1 for event in events))

    def add(self, part: bytes, run: list[dict[str, Any]] | None) -> None:
        if run is None:
            self.count += 1
        else:
            self.runs[len(self.parts)] = run
            self.count += len(run)
        self.parts.append(part)
        self.size += len(part) + 1

    def events(self) -> list[bytes]:
        """One encoded event each (for the spool and 413 splits): runs encoded again, one
        dict per call, which gives the very same bytes."""
        if not self.runs:
            return self.parts
        events: list[bytes] = []
        for index, part in enumerate(self.parts):
            run = self.runs.get(index)
            if run is None:
                events.append(part)
            else:
                events.extend(encode_json(item) for item in run)
        return events


class Encoder:
    """Encodes queued items; what cannot be encoded, or is over 900 KiB, is counted and dropped."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def assemble(self, items: list[Item]) -> tuple[Batch, list[Item]]:
        """Encode ``items`` into a batch; returns it and the events that would take it
        over 5 MiB (to go back to the queue)."""
        batch = Batch()
        start = 0
        while start < len(items):
            end = _group_end(items, start)
            parts = self._encode_group(items[start:end])
            for index, (part, run) in enumerate(parts):
                if batch.parts and batch.size + len(part) > MAX_BATCH_BYTES:
                    rest: list[Item] = []
                    for left, left_run in parts[index:]:
                        rest.extend([left] if left_run is None else left_run)
                    rest.extend(items[end:])
                    return batch, rest
                batch.add(part, run)
            start = end
        return batch, []

    def _encode_group(self, group: list[Item]) -> list[_Part]:
        """Encode one item, or a run of dicts by one encoder call (about 0.8 µs less per
        event than a call each; a run that fails or is over 900 KiB is encoded one by one),
        or complete a run of events from ``capture()``."""
        if isinstance(group[0], tuple):
            partials = [item for item in group if isinstance(item, tuple)]
            return [(event, None) for event in complete_events(partials)]
        if len(group) > 1:
            run = [item for item in group if isinstance(item, dict)]
            try:
                encoded = encode_json(run)
            except (TypeError, ValueError):
                pass  # find and drop the culprit below
            else:
                if len(encoded) - 2 <= MAX_EVENT_BYTES:
                    return [(encoded[1:-1], run)]
        parts: list[_Part] = []
        for item in group:
            encoded_item = self.encode(item)
            if encoded_item is not None:
                parts.append((encoded_item, None))
        return parts

    def encode(self, item: Item) -> bytes | None:
        """One item as one encoded event; None when it was dropped."""
        if isinstance(item, bytes):
            return item
        if isinstance(item, tuple):
            return complete_event(*item)
        try:
            encoded = encode_json(item)
        except (TypeError, ValueError) as exc:
            self._counters.add("dropped_unencodable")
            logger.error("posthog-web dropped an event it could not encode: %s", exc)
            return None
        if len(encoded) > MAX_EVENT_BYTES:
            self._counters.add("dropped_oversized")
            logger.error("posthog-web dropped an event of %d bytes (limit 900 KiB)", len(encoded))
            return None
        return encoded


class BodyEncoder:
    """The ``/batch/`` request body for a list of encoded events, gzipped unless disabled."""

    def __init__(self, api_key: str, gzip: bool) -> None:
        self._api_key_json = json.dumps(api_key).encode()
        self._gzip = gzip

    def __call__(self, events: list[bytes]) -> bytes:
        # sent_at is new on every attempt; the events themselves are byte-identical.
        body = b"".join(
            (
                b'{"api_key":',
                self._api_key_json,
                b',"historical_migration":false,"sent_at":"',
                now_iso().encode(),
                b'","batch":[',
                b",".join(events),
                b"]}",
            )
        )
        if self._gzip:
            # Level 1: a third of level 6's CPU for bodies about 15% larger (bench/).
            return gzip.compress(body, compresslevel=1, mtime=0)
        return body


def chunks(events: list[bytes], size: int) -> list[list[bytes]]:
    """``events`` cut into batches of at most ``size`` events and 5 MiB."""
    batches: list[list[bytes]] = []
    batch: list[bytes] = []
    nbytes = 0
    for event in events:
        if batch and (len(batch) >= size or nbytes + len(event) > MAX_BATCH_BYTES):
            batches.append(batch)
            batch, nbytes = [], 0
        batch.append(event)
        nbytes += len(event) + 1
    if batch:
        batches.append(batch)
    return batches


def _group_end(items: list[Item], start: int) -> int:
    """End of the group starting at ``start``: one item, or up to RUN_LENGTH dicts, or
    up to RUN_LENGTH events from ``capture()`` (tuples)."""
    first = items[start]
    kind = dict if isinstance(first, dict) else tuple if isinstance(first, tuple) else None
    end = start + 1
    if kind is not None:
        limit = min(len(items), start + RUN_LENGTH)
        while end < limit and isinstance(items[end], kind):
            end += 1
    return end
