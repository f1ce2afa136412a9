"""Group analytics: the checks of group types and keys, and the ``$groupidentify`` event.

PostHog maps each group type to one of five slots per project the first time it sees it,
and drops a sixth type from events; a group key over 400 characters drops the event
(docs/groups.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from posthog_web import events as ev

__all__ = [
    "MAX_GROUP_KEY_LENGTH",
    "MAX_GROUP_TYPES",
    "GroupTypes",
    "group_identify_properties",
    "validate_group_key",
    "validate_group_type",
    "validate_groups",
]

logger = logging.getLogger(__name__)

MAX_GROUP_TYPES = 5
MAX_GROUP_KEY_LENGTH = 400


def validate_group_type(value: object, field: str = "group_type") -> str:
    """Return ``value`` if it is a group type PostHog accepts (a non-empty str), else raise."""
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str, not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    if "\x00" in value:
        raise ValueError(f"{field} must not contain NUL characters")
    return value


def validate_group_key(value: object, field: str = "group_key") -> str:
    """Return ``value`` as the group key PostHog stores: a non-empty str of <= 400 characters.

    An int (a database id) is accepted and sent as its decimal string.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise TypeError(f"{field} must be a str (or an int), not {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{field} must not be empty")
    if len(value) > MAX_GROUP_KEY_LENGTH:
        raise ValueError(
            f"{field} is {len(value)} characters long; PostHog drops events whose group key "
            f"is over {MAX_GROUP_KEY_LENGTH}"
        )
    if "\x00" in value:
        raise ValueError(f"{field} must not contain NUL characters")
    return value


def validate_groups(value: object, field: str = "groups") -> dict[str, str]:
    """Return ``value`` (``{group_type: group_key}``) checked and copied, else raise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{field} must be a mapping of group type to group key, not {type(value).__name__}"
        )
    checked: dict[str, str] = {}
    for group_type, key in value.items():
        name = validate_group_type(group_type, f"{field} key {group_type!r}")
        checked[name] = validate_group_key(key, f"{field}[{group_type!r}]")
    return checked


class GroupTypes:
    """The group types this process has sent; warns once when there are more than five.

    PostHog keeps five group types per project and drops the others from events, so a
    sixth is almost always a typo or a per-tenant type name.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._warned = False
        self._lock = threading.Lock()

    def note(self, groups: Mapping[str, str]) -> None:
        """Record the types of ``groups`` (cheap when they were all seen before)."""
        if self._warned or self._seen.issuperset(groups):
            return
        with self._lock:
            self._seen.update(groups)
            if len(self._seen) <= MAX_GROUP_TYPES or self._warned:
                return
            self._warned = True
            types = ", ".join(sorted(self._seen))
        logger.warning(
            "posthog-web: %d group types were sent (%s); PostHog keeps %d per project and "
            "drops the others from events (logged once)",
            len(self._seen),
            types,
            MAX_GROUP_TYPES,
        )


def group_identify_properties(
    group_type: str, group_key: str, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """The properties of a ``$groupidentify`` event (``$group_set`` merges on the server)."""
    return {
        ev.PROP_GROUP_TYPE: group_type,
        ev.PROP_GROUP_KEY: group_key,
        ev.PROP_GROUP_SET: dict(properties),
    }


def group_distinct_id(group_type: str, group_key: str) -> str:
    """The distinct id of a ``$groupidentify`` sent for no person: ``$<type>_<key>``.

    posthog-node's choice; one stable id per group rather than a random person per call.
    """
    return f"${group_type}_{group_key}"
