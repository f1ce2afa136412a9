"""The client's group and person-property operations: :class:`PersonsMixin`.

``group_identify`` (``$groupidentify``), ``set`` and ``set_once`` (``$set`` and
``$set_once`` events with the properties at the top level, as posthog-python sends
them), and the ``groups=`` argument of the event operations (docs/groups.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posthog_web import events as ev
from posthog_web.groups import (
    GroupTypes,
    group_distinct_id,
    group_identify_properties,
    validate_group_key,
    validate_group_type,
    validate_groups,
)
from posthog_web.payloads import check_encodable

__all__ = ["PersonsMixin"]


class PersonsMixin:
    """Groups and person properties for :class:`~posthog_web.Client`."""

    _group_types: GroupTypes

    def _send(  # implemented by Client
        self,
        event: str,
        distinct_id: object,
        properties: dict[str, Any],
        timestamp: object,
        event_uuid: str | None,
        top_level: dict[str, Any] | None = None,
    ) -> int | None:
        raise NotImplementedError

    def group_identify(
        self,
        group_type: str,
        group_key: str,
        *,
        properties: Mapping[str, Any] | None = None,
        timestamp: object = None,
        distinct_id: str | None = None,
    ) -> int | None:
        """Set a group's properties (``$groupidentify``; PostHog merges them).

        Args:
            group_type: the kind of group (``"company"``); PostHog keeps five per project.
            group_key: the group's id (a str, or an int sent as its decimal string).
            properties: the group's properties (``$group_set``).
            timestamp: when it happened (as for :meth:`capture`).
            distinct_id: the person who did it; None sends it as ``$<type>_<key>``,
                one stable id per group (posthog-node's choice), never a random person.

        Returns:
            In sync mode the HTTP status PostHog answered; otherwise None.
        """
        kind = validate_group_type(group_type)
        key = validate_group_key(group_key)
        props = ev.check_properties(properties)
        did = group_distinct_id(kind, key) if distinct_id is None else distinct_id
        self._group_types.note({kind: key})
        payload = group_identify_properties(kind, key, props)
        return self._send(ev.EVENT_GROUP_IDENTIFY, did, payload, timestamp, None)

    def set(self, *, distinct_id: str, properties: Mapping[str, Any]) -> int | None:
        """Set person properties (a ``$set`` event); empty ``properties`` send nothing."""
        return self._person_update(ev.EVENT_SET, ev.PROP_SET, distinct_id, properties)

    def set_once(self, *, distinct_id: str, properties: Mapping[str, Any]) -> int | None:
        """Set person properties that are not set yet (a ``$set_once`` event)."""
        return self._person_update(ev.EVENT_SET_ONCE, ev.PROP_SET_ONCE, distinct_id, properties)

    def _person_update(
        self, event: str, key: str, distinct_id: object, properties: Mapping[str, Any]
    ) -> int | None:
        ev.validate_distinct_id(distinct_id)
        props = ev.check_properties(properties)
        if not props:
            return None
        check_encodable(props)
        return self._send(event, distinct_id, {}, None, None, {key: props})

    def _add_groups(self, properties: dict[str, Any], groups: object) -> None:
        """Put ``groups`` (checked) in ``properties`` as ``$groups``; it replaces one there."""
        if groups is None:
            return
        checked = validate_groups(groups)
        if checked:
            self._group_types.note(checked)
            properties[ev.PROP_GROUPS] = checked
