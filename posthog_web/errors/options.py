"""The options of exception capture, validated once when they are made."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: Names of locals whose values are never sent (case-insensitive substrings).
DEFAULT_MASKED_NAMES = (
    "password",
    "passwd",
    "pwd",
    "token",
    "secret",
    "key",
    "authorization",
    "auth",
    "cookie",
    "session",
    "csrf",
    "credential",
    "dsn",
    "jwt",
    "signature",
)

#: Exceptions frameworks answer with a 4xx: not errors of the app. Dotted paths, so the
#: core imports no framework; subclasses count.
DEFAULT_IGNORED_EXCEPTIONS: tuple[str, ...] = (
    "django.http.response.Http404",
    "django.core.exceptions.PermissionDenied",
    "django.core.exceptions.SuspiciousOperation",
    "django.core.exceptions.BadRequest",
    "fastapi.exceptions.RequestValidationError",
)
#: Exceptions that carry the HTTP status they answer (``status_code``; Werkzeug's
#: ``code``): ignored below 500.
DEFAULT_IGNORED_BELOW_500: tuple[str, ...] = (
    "starlette.exceptions.HTTPException",
    "rest_framework.exceptions.APIException",
    "werkzeug.exceptions.HTTPException",
)


@dataclass(frozen=True)
class ExceptionOptions:
    """How ``$exception`` events are built.

    Args:
        in_app: module prefixes counted as the app's code (``"myproject"`` covers
            ``myproject.views``); None: every frame outside site-packages/dist-packages, the
            standard library and posthog-web itself.
        capture_code_variables: send the repr of each in-app frame's locals.
        masked_variable_names: more name fragments to mask, beside
            :data:`DEFAULT_MASKED_NAMES`.
        ignore_exceptions: exception types, or dotted paths to them, that
            :meth:`~posthog_web.errors.ExceptionCapture.is_ignored` reports (subclasses
            too); :data:`DEFAULT_IGNORED_EXCEPTIONS` unless given.
        ignore_below_500: the same for exceptions whose ``status_code`` attribute (else
            ``code``, Werkzeug's) is below 500 (:data:`DEFAULT_IGNORED_BELOW_500` unless given).
        max_frames: frames kept per exception; older frames are dropped for a marker.
        max_value_chars: characters kept of each exception message.
        max_variable_chars: characters kept of each variable's repr.
        max_variables_chars: characters of variables per event, over all frames.
        flood_limit: events per fingerprint per minute in this process; the rest are
            counted and the count rides on the next event of that fingerprint.
        flood_fingerprints: fingerprints remembered by the flood limit (least recently
            seen forgotten first).
    """

    in_app: tuple[str, ...] | None = None
    capture_code_variables: bool = False
    masked_variable_names: tuple[str, ...] = ()
    ignore_exceptions: tuple[type[BaseException] | str, ...] = DEFAULT_IGNORED_EXCEPTIONS
    ignore_below_500: tuple[type[BaseException] | str, ...] = DEFAULT_IGNORED_BELOW_500
    max_frames: int = 100
    max_value_chars: int = 8192
    max_variable_chars: int = 512
    max_variables_chars: int = 10_240
    flood_limit: int = 10
    flood_fingerprints: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_app", _prefixes(self.in_app))
        object.__setattr__(self, "capture_code_variables", _bool(self.capture_code_variables))
        object.__setattr__(self, "masked_variable_names", _names(self.masked_variable_names))
        for name in ("ignore_exceptions", "ignore_below_500"):
            object.__setattr__(self, name, _ignored(getattr(self, name), name))
        for name in (
            "max_frames",
            "max_value_chars",
            "max_variable_chars",
            "max_variables_chars",
            "flood_limit",
            "flood_fingerprints",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, not {value!r}")


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"capture_code_variables must be a bool, not {type(value).__name__}")
    return value


def _strings(value: object, field_name: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise TypeError(f"{field_name} must be a list of str, not {type(value).__name__}")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{field_name} must hold non-empty str, not {item!r}")
    return tuple(item.strip() for item in items)


def _prefixes(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(prefix.rstrip(".") for prefix in _strings(value, "in_app"))


def _names(value: object) -> tuple[str, ...]:
    return tuple(name.lower() for name in _strings(value, "masked_variable_names"))


def _ignored(value: object, field_name: str) -> tuple[type[BaseException] | str, ...]:
    if isinstance(value, (str, type)) or not isinstance(value, Iterable):
        raise TypeError(
            f"{field_name} must be a list of exception types or dotted paths, "
            f"not {type(value).__name__}"
        )
    items = tuple(value)
    for item in items:
        if isinstance(item, type) and issubclass(item, BaseException):
            continue
        if isinstance(item, str) and "." in item.strip(". "):
            continue
        raise ValueError(
            f"{field_name} must hold exception types or dotted paths "
            f"('package.module.Error'), not {item!r}"
        )
    return tuple(item.strip() if isinstance(item, str) else item for item in items)
