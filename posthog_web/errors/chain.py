"""The exceptions one ``$exception`` reports, in PostHog's order (errors-groups.md A.1).

The caught exception first, then what it was raised from (``__cause__``, or
``__context__`` unless suppressed), depth first; an exception group's members follow its
own chain. Each exception appears once, so cycles end.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

MAX_EXCEPTIONS = 50
MAX_GROUP_MEMBERS_SEEN = 1000

_GROUP: type[BaseException] | None = getattr(builtins, "BaseExceptionGroup", None)


@dataclass(frozen=True)
class Link:
    """One exception of the chain: its index's parent and how it hangs from it."""

    exc: BaseException
    parent: int | None
    source: str | None  # "cause", "context" or "member"


def is_group(exc: BaseException) -> bool:
    """Whether ``exc`` is a ``BaseExceptionGroup``."""
    return _GROUP is not None and isinstance(exc, _GROUP)


def walk(root: BaseException) -> list[Link]:
    """The exceptions to report for ``root``, at most :data:`MAX_EXCEPTIONS`."""
    links: list[Link] = []
    seen: set[int] = set()
    members_seen = 0
    # An explicit stack: a chain can be long, recursion would cost frames we may not have.
    pending: list[Link] = [Link(root, None, None)]
    while pending and len(links) < MAX_EXCEPTIONS:
        link = pending.pop()
        if id(link.exc) in seen:
            continue
        seen.add(id(link.exc))
        index = len(links)
        links.append(link)
        later: list[Link] = []
        following = _next_in_chain(link.exc)
        if following is not None:
            later.append(Link(following[0], index, following[1]))
        if is_group(link.exc):
            for member in _members(link.exc, MAX_GROUP_MEMBERS_SEEN - members_seen):
                members_seen += 1
                later.append(Link(member, index, "member"))
        pending.extend(reversed(later))
    return links


def attribute(exc: BaseException, name: str) -> Any:
    """``exc.name``, or None when the class makes reading it fail."""
    try:
        return getattr(exc, name, None)
    except Exception:  # a hostile __getattribute__ must not stop the report
        return None


def _next_in_chain(exc: BaseException) -> tuple[BaseException, str] | None:
    cause = attribute(exc, "__cause__")
    if isinstance(cause, BaseException):
        return cause, "cause"
    if attribute(exc, "__suppress_context__"):
        return None
    context = attribute(exc, "__context__")
    if isinstance(context, BaseException):
        return context, "context"
    return None


def _members(group: BaseException, budget: int) -> list[BaseException]:
    if budget <= 0:
        return []
    members = attribute(group, "exceptions")
    if not isinstance(members, tuple):
        return []
    return [member for member in members[:budget] if isinstance(member, BaseException)]
