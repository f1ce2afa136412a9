"""What the request helper needs from a tracker: the :class:`HelperTracker` protocol.

The helper reaches the tracker (or, for background jobs, a detached stand-in) only
through it, so ``helper.py`` imports neither the tracker nor its context.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from posthog_web.web.helper_flags import FlagsTracker
from posthog_web.web.posthog_js import PostHogJS

__all__ = ["HelperTracker"]

C_contra = TypeVar("C_contra", contravariant=True)


class HelperTracker(FlagsTracker, Protocol[C_contra]):
    """What the helper needs from the tracker; ``C_contra`` is its per-request context."""

    def distinct_id(self, ctx: C_contra) -> str: ...
    def session_id(self, ctx: C_contra) -> str | None: ...
    def is_identified(self, ctx: C_contra) -> bool: ...
    def explicit_identity(self, ctx: C_contra) -> bool: ...
    def posthog_js(self, ctx: C_contra) -> PostHogJS | None: ...
    def capture(
        self,
        ctx: C_contra,
        event: str,
        properties: dict[str, Any],
        *,
        timestamp: str | None = None,
    ) -> None: ...
    def pageview_properties(
        self, ctx: C_contra, name: str | None, properties: dict[str, Any]
    ) -> None: ...
    def page(self, ctx: C_contra, name: str | None, properties: dict[str, Any]) -> None: ...
    def screen(self, ctx: C_contra, name: str, properties: dict[str, Any]) -> None: ...
    def identify(
        self, ctx: C_contra, properties: dict[str, Any], properties_once: dict[str, Any]
    ) -> None: ...
    def alias(self, ctx: C_contra, alias: str) -> None: ...
    def login(self, ctx: C_contra, distinct_id: str, properties: dict[str, Any] | None) -> None: ...
    def logout(self, ctx: C_contra) -> None: ...
    def capture_exception(
        self, ctx: C_contra, exc: BaseException, properties: dict[str, Any]
    ) -> None: ...
    def autocapture(
        self,
        ctx: C_contra,
        exc: BaseException,
        source: str,
        *,
        status: int | None = None,
        handled: bool = False,
    ) -> None: ...
    def groups(self, ctx: C_contra) -> dict[str, str]: ...
    def group(
        self, ctx: C_contra, group_type: str, group_key: str, props: dict[str, Any] | None
    ) -> None: ...
    def set_person(self, ctx: C_contra, properties: dict[str, Any], once: bool) -> None: ...
