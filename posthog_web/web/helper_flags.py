"""The request helper's feature flag methods (``request.posthog.get_feature_flag(key)``).

A thin surface: each call checks its arguments and hands the work to the tracker
(:class:`~posthog_web.web.flags.FlagReader`), inside the request path's guard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from posthog_web.web.guard import guarded
from posthog_web.web.request_flags import check_flag_key

if TYPE_CHECKING:
    from posthog_web.flags.results import FlagResult

__all__ = ["FlagsHelperMixin", "FlagsTracker", "NoopFlagsMixin"]

# One guard each, built once: a flag read runs on the request path.
_GUARD_GET_FEATURE_FLAG = guarded("get_feature_flag")
_GUARD_GET_FEATURE_FLAG_PAYLOAD = guarded("get_feature_flag_payload")
_GUARD_GET_ALL_FLAGS = guarded("get_all_flags")
_GUARD_AGET_FEATURE_FLAG = guarded("aget_feature_flag")
_GUARD_AGET_FEATURE_FLAG_PAYLOAD = guarded("aget_feature_flag_payload")
_GUARD_AGET_ALL_FLAGS = guarded("aget_all_flags")


class FlagsTracker(Protocol):
    """What the flag methods need from the tracker (``ctx``: its per-request context)."""

    @property
    def feature_flag(self) -> Callable[[Any, str, bool], FlagResult]: ...
    async def afeature_flag(self, ctx: Any, key: str, send_event: bool = True) -> FlagResult: ...
    def all_flags(self, ctx: Any) -> dict[str, FlagResult]: ...
    async def aall_flags(self, ctx: Any) -> dict[str, FlagResult]: ...


class FlagsHelperMixin:
    """Feature flags for the request's own visitor (see docs/flags.md, "Per request")."""

    _tracker: Any  # a FlagsTracker (and the helper's HelperTracker)
    _context: object

    def feature_enabled(self, key: str, *, send_event: bool = True) -> bool:
        """Whether flag ``key`` is on (a variant counts) for this request's visitor.

        False when the flag is unknown or cannot be evaluated. Evaluated at most once
        per request; sends ``$feature_flag_called`` once per (visitor, flag, value) per
        process unless ``send_event=False``; later events of the request carry
        ``$feature/<key>`` and ``$active_feature_flags``.
        """
        return bool(self.get_feature_flag(key, send_event=send_event))

    def get_feature_flag(self, key: str, *, send_event: bool = True) -> bool | str | None:
        """Flag ``key``'s value for this visitor: ``True``/``False``, a variant key, or
        None when it could not be evaluated (see :meth:`feature_enabled`)."""
        if type(key) is not str or not key:
            check_flag_key(key)  # raises, naming the field (a str subclass passes)
        if send_event is not True and send_event is not False:
            _check_bool(send_event, "send_event")
        try:  # the guard's work as a try: the request path's most frequent call
            result: FlagResult = self._tracker.feature_flag(self._context, key, send_event)
        except Exception as exc:
            _GUARD_GET_FEATURE_FLAG.swallow(exc)
            return None
        return result.value

    def get_feature_flag_payload(self, key: str) -> Any:
        """The payload (decoded JSON) of flag ``key``'s value for this visitor, or None.

        Shares the request's evaluation with the other calls; sends no event.
        """
        check_flag_key(key)
        with _GUARD_GET_FEATURE_FLAG_PAYLOAD:
            result = self._tracker.feature_flag(self._context, key, False)
            return result.payload if result.value is not None else None
        return None

    def get_all_flags(self) -> dict[str, bool | str]:
        """Every flag's value for this visitor (flags that could not be evaluated are
        left out). Sends no event; the flags count as read."""
        with _GUARD_GET_ALL_FLAGS:
            results = self._tracker.all_flags(self._context)
            return {key: r.value for key, r in results.items() if r.value is not None}
        return {}

    async def afeature_enabled(self, key: str, *, send_event: bool = True) -> bool:
        """:meth:`feature_enabled` for async code: a ``/flags`` call runs off the loop."""
        return bool(await self.aget_feature_flag(key, send_event=send_event))

    async def aget_feature_flag(self, key: str, *, send_event: bool = True) -> bool | str | None:
        """:meth:`get_feature_flag` for async code: a ``/flags`` call runs off the loop."""
        check_flag_key(key)
        _check_bool(send_event, "send_event")
        with _GUARD_AGET_FEATURE_FLAG:
            result: FlagResult = await self._tracker.afeature_flag(self._context, key, send_event)
            return result.value
        return None

    async def aget_feature_flag_payload(self, key: str) -> Any:
        """:meth:`get_feature_flag_payload` for async code."""
        check_flag_key(key)
        with _GUARD_AGET_FEATURE_FLAG_PAYLOAD:
            result = await self._tracker.afeature_flag(self._context, key, False)
            return result.payload if result.value is not None else None
        return None

    async def aget_all_flags(self) -> dict[str, bool | str]:
        """:meth:`get_all_flags` for async code."""
        with _GUARD_AGET_ALL_FLAGS:
            results = await self._tracker.aall_flags(self._context)
            return {key: r.value for key, r in results.items() if r.value is not None}
        return {}


class NoopFlagsMixin(FlagsHelperMixin):
    """The flag methods outside a request: arguments checked, nothing evaluated."""

    def _note(self) -> None:
        raise NotImplementedError

    def get_feature_flag(self, key: str, *, send_event: bool = True) -> bool | str | None:
        check_flag_key(key)
        _check_bool(send_event, "send_event")
        self._note()
        return None

    def get_feature_flag_payload(self, key: str) -> Any:
        check_flag_key(key)
        self._note()
        return None

    def get_all_flags(self) -> dict[str, bool | str]:
        self._note()
        return {}

    async def aget_feature_flag(self, key: str, *, send_event: bool = True) -> bool | str | None:
        return self.get_feature_flag(key, send_event=send_event)

    async def aget_feature_flag_payload(self, key: str) -> Any:
        return self.get_feature_flag_payload(key)

    async def aget_all_flags(self) -> dict[str, bool | str]:
        return self.get_all_flags()


def _check_bool(value: object, field: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{field} must be a bool, not {type(value).__name__}")
