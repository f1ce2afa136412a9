"""PostHog's person merge rules applied to stored events (docs/posthog-ingestion.md §3.2, §3.3).

This is a view for checking identity linking, not a full person pipeline: it models which ids
end up on one person, ``is_identified``, ``$set``/``$set_once``/``$unset`` and the refusals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from posthog_web.events import is_unmergeable_distinct_id as is_illegal_distinct_id

IDENTIFY = "$identify"
CREATE_ALIAS = "$create_alias"
MERGE_DANGEROUSLY = "$merge_dangerously"
GROUP_IDENTIFY = "$groupidentify"
_MERGE_SOURCE = {IDENTIFY: "$anon_distinct_id", CREATE_ALIAS: "alias", MERGE_DANGEROUSLY: "alias"}
_PERSON_EVENTS = frozenset({*_MERGE_SOURCE, GROUP_IDENTIFY})

ALREADY_IDENTIFIED = "cannot_merge_already_identified"
ILLEGAL_ID = "cannot_merge_with_illegal_distinct_id"
PERSONLESS = "invalid_event_when_process_person_profile_is_false"


@dataclass
class _Person:
    distinct_ids: list[str]
    is_identified: bool = False
    properties: dict[str, Any] = field(default_factory=dict)
    #: Which event brought which ids onto this person, in order.
    merges: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "distinct_ids": list(self.distinct_ids),
            "is_identified": self.is_identified,
            "properties": dict(self.properties),
        }


class _Persons:
    def __init__(self) -> None:
        self.by_id: dict[str, _Person] = {}
        self.order: list[_Person] = []
        self.refusals: list[dict[str, Any]] = []

    def get_or_create(self, distinct_id: str) -> _Person:
        person = self.by_id.get(distinct_id)
        if person is None:
            person = _Person([distinct_id])
            self.by_id[distinct_id] = person
            self.order.append(person)
        return person

    def add_id(self, person: _Person, distinct_id: str) -> None:
        person.distinct_ids.append(distinct_id)
        self.by_id[distinct_id] = person

    def absorb(self, target: _Person, source: _Person) -> None:
        # The target's values win on conflicts.
        target.properties = {**source.properties, **target.properties}
        for distinct_id in source.distinct_ids:
            self.add_id(target, distinct_id)
        target.merges.extend(source.merges)
        self.order.remove(source)

    def record_merge(self, person: _Person, event: dict[str, Any], ids: list[str]) -> None:
        person.merges.append(
            {
                "distinct_ids": ids,
                "event": event["event"],
                "uuid": event.get("uuid"),
                "timestamp": event.get("timestamp"),
            }
        )

    def refuse(self, event: dict[str, Any], reason: str, other: Any = None) -> None:
        self.refusals.append(
            {
                "uuid": event.get("uuid"),
                "event": event["event"],
                "distinct_id": event["distinct_id"],
                "other_distinct_id": other,
                "reason": reason,
            }
        )


def merge_view(
    events: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Apply the merge rules to ``events`` in order; return (persons, refusals)."""
    persons = _apply(events)
    return [p.as_dict() for p in persons.order], persons.refusals


def merge_history(
    events: Iterable[dict[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Like merge_view(), each person also with ``merges``: which event merged which ids."""
    history = MergeHistory()
    history.add(events)
    return history.persons(), history.refusals()


class MergeHistory:
    """The merge rules applied incrementally: add events in arrival order, read at any time."""

    def __init__(self) -> None:
        self._persons = _Persons()

    def add(self, events: Iterable[dict[str, Any]]) -> None:
        """Apply ``events`` (the ones stored after those already added)."""
        _apply(events, self._persons)

    def persons(self) -> list[dict[str, Any]]:
        """Every person, as merge_view() has them, with ``merges``."""
        return [{**p.as_dict(), "merges": list(p.merges)} for p in self._persons.order]

    def refusals(self) -> list[dict[str, Any]]:
        """The refused merges and dropped person events so far."""
        return list(self._persons.refusals)

    def person_of(self) -> dict[str, str]:
        """Each distinct id with a person -> that person's first distinct id."""
        return {i: person.distinct_ids[0] for i, person in self._persons.by_id.items()}


def _apply(events: Iterable[dict[str, Any]], persons: _Persons | None = None) -> _Persons:
    persons = _Persons() if persons is None else persons
    for event in events:
        properties = event.get("properties") or {}
        if properties.get("$process_person_profile") is False:
            if event["event"] in _PERSON_EVENTS:
                persons.refuse(event, PERSONLESS)
            continue
        target = _merge(persons, event, properties) or persons.get_or_create(event["distinct_id"])
        _update_properties(target, event, properties)
    return persons


def _merge(persons: _Persons, event: dict[str, Any], properties: dict[str, Any]) -> _Person | None:
    """Handle an $identify/$create_alias/$merge_dangerously; return the resulting person."""
    source_key = _MERGE_SOURCE.get(event["event"])
    other = properties.get(source_key) if source_key else None
    into: str = event["distinct_id"]
    if other is None or other == "":
        return None
    other = other if isinstance(other, str) else str(other)
    if other == into:
        return None
    if is_illegal_distinct_id(other) or is_illegal_distinct_id(into):
        persons.refuse(event, ILLEGAL_ID, other)
        return None
    target, source = persons.by_id.get(into), persons.by_id.get(other)
    if target is None and source is None:
        target = persons.get_or_create(into)
        persons.add_id(target, other)
        persons.record_merge(target, event, [other])
    elif target is None:
        assert source is not None
        persons.add_id(source, into)
        target = source
        persons.record_merge(target, event, [into])
    elif source is not None and source is not target:
        if source.is_identified and event["event"] != MERGE_DANGEROUSLY:
            persons.refuse(event, ALREADY_IDENTIFIED, other)
        else:
            absorbed = list(source.distinct_ids)
            persons.absorb(target, source)
            persons.record_merge(target, event, absorbed)
    elif source is None:
        persons.add_id(target, other)
        persons.record_merge(target, event, [other])
    target.is_identified = True
    return target


def _update_properties(person: _Person, event: dict[str, Any], properties: dict[str, Any]) -> None:
    to_set = {**_mapping(properties.get("$set")), **_mapping(event.get("$set"))}
    set_once = {**_mapping(properties.get("$set_once")), **_mapping(event.get("$set_once"))}
    for key, value in set_once.items():
        person.properties.setdefault(key, value)
    person.properties.update(to_set)
    unset = properties.get("$unset")
    if isinstance(unset, list):
        for key in unset:
            if isinstance(key, str):
                person.properties.pop(key, None)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
