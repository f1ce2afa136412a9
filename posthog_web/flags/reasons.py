"""Why local evaluation left a flag undecided, and the exception that carries it."""

from __future__ import annotations

EXPERIENCE_CONTINUITY = "experience_continuity"
UNSUPPORTED_DEFINITION = "unsupported_definition"
UNRESOLVED_DEPENDENCY = "unresolved_dependency"
MISSING_CONTEXT = "missing_context"

# When several causes apply, PostHog's SDKs all report the first in this order.
_PRECEDENCE = {
    EXPERIENCE_CONTINUITY: 0,
    UNSUPPORTED_DEFINITION: 1,
    UNRESOLVED_DEPENDENCY: 2,
    MISSING_CONTEXT: 3,
}


def pick(current: str | None, new: str) -> str:
    """Return the reason of higher precedence (``current`` may be None)."""
    if current is None or _PRECEDENCE[new] < _PRECEDENCE[current]:
        return new
    return current


class Undecided(Exception):
    """Local evaluation cannot decide.

    ``server`` is True when the flag needs data only the server has (a static cohort, a
    malformed cohort): the flag's remaining conditions are then not tried. Otherwise
    the condition is inconclusive and later conditions may still decide the flag.
    """

    __slots__ = ("reason", "server")

    def __init__(self, reason: str, *, server: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.server = server
