"""``ExceptionCapture``: an exception becomes the properties of one ``$exception`` event."""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from posthog_web import events as ev
from posthog_web.errors import chain
from posthog_web.errors.floods import FloodGate
from posthog_web.errors.frames import Entry, FrameBuilder, current_frame, marker_frame
from posthog_web.errors.masking import clean_text, mask_text
from posthog_web.errors.options import ExceptionOptions
from posthog_web.errors.size import fit_to_size
from posthog_web.errors.variables import VariableBudget, VariableReader

logger = logging.getLogger(__name__)

MECHANISM_GENERIC = "generic"
MECHANISM_MIDDLEWARE = "middleware"
MECHANISM_UNCAUGHT = "onuncaughtexception"
MECHANISM_CHAINED = "chained"
_CAPTURED_MARK = "__posthog_web_captured__"


class ExceptionCapture:
    """Builds ``$exception`` properties under one set of options; shared by threads.

    Args:
        options: the :class:`ExceptionOptions` (defaults when None).
        clock: the monotonic clock of the flood limit (tests pass their own).
    """

    def __init__(
        self,
        options: ExceptionOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options if options is not None else ExceptionOptions()
        self._frames = FrameBuilder(self.options.in_app)
        self._variables = (
            VariableReader(self.options.masked_variable_names, self.options.max_variable_chars)
            if self.options.capture_code_variables
            else None
        )
        self._gate = FloodGate(self.options.flood_limit, self.options.flood_fingerprints, clock)
        self._always = _Matcher(self.options.ignore_exceptions)
        self._below_500 = _Matcher(self.options.ignore_below_500)

    def is_ignored(self, exc: BaseException) -> bool:
        """Whether ``exc`` is of an ignored type (``ignore_exceptions``), or of a
        ``ignore_below_500`` type with a ``status_code`` (else ``code``) below 500.
        Subclasses count.

        Dotted paths are compared with each class's ``module.QualName`` along the MRO,
        and with the class they name if its module is already imported: nothing is
        imported here.
        """
        if self._always.matches(exc):
            return True
        status = chain.attribute(exc, "status_code")
        if status is None:
            status = chain.attribute(exc, "code")  # Werkzeug's HTTPException
        return isinstance(status, int) and status < 500 and self._below_500.matches(exc)

    def build(
        self,
        exc: BaseException,
        *,
        handled: bool,
        mechanism_type: str = MECHANISM_GENERIC,
        context_properties: Mapping[str, Any] | None = None,
        level: str = "error",
        source: str | None = None,
    ) -> dict[str, Any] | None:
        """The properties of the ``$exception`` event for ``exc``, or None to send nothing.

        None when ``exc`` was captured before, when the flood limit holds it back, or when
        building fails (logged: this never raises). ``context_properties`` are copied in
        first; the exception's own properties win over them.
        """
        try:
            return self._build(exc, handled, mechanism_type, context_properties, level, source)
        except Exception:
            logger.warning(
                "posthog-web: could not build $exception for %s; nothing sent",
                _type_name(exc),
                exc_info=True,
            )
            return None

    def _build(
        self,
        exc: BaseException,
        handled: bool,
        mechanism_type: str,
        context_properties: Mapping[str, Any] | None,
        level: str,
        source: str | None,
    ) -> dict[str, Any] | None:
        if chain.attribute(exc, _CAPTURED_MARK):
            logger.debug("posthog-web: %s was captured already", _type_name(exc))
            return None
        links = chain.walk(exc)
        traces = [self._trace_of(link.exc, index == 0) for index, link in enumerate(links)]
        values = [_value_of(link.exc, self.options.max_value_chars) for link in links]
        fingerprint = self.fingerprint_of(links, values, traces)
        suppressed = self._gate.admit(fingerprint)
        if suppressed is None:
            logger.debug("posthog-web: flood limit holds back %s", _type_name(exc))
            return None
        budget = VariableBudget(self.options.max_variables_chars)
        entries = [
            self._entry(link, index, values[index], traces[index], handled, mechanism_type, budget)
            for index, link in enumerate(links)
        ]
        props = dict(context_properties) if context_properties else {}
        props[ev.PROP_EXCEPTION_LIST] = entries
        props[ev.PROP_EXCEPTION_LEVEL] = level if level in ev.EXCEPTION_LEVELS else "error"
        if source is not None:
            props[ev.PROP_EXCEPTION_SOURCE] = source
        if suppressed:
            props[ev.PROP_EXCEPTION_SUPPRESSED] = suppressed
        if not fit_to_size(props, ev.MAX_EVENT_BYTES - 4096):
            logger.warning(
                "posthog-web: $exception for %s is too big even when trimmed; nothing sent",
                _type_name(exc),
            )
            return None
        _mark_captured(exc)
        return props

    def fingerprint_of(
        self, links: list[chain.Link], values: list[str], traces: list[_Trace]
    ) -> str:
        """The flood limit's key: each exception's type and in-app frames, as PostHog
        groups them; the message only for an exception without a stack.

        So "user 123 not found" and "user 456 not found" from one line share a bucket.
        """
        digest = hashlib.sha256()
        for link, value, trace in zip(links, values, traces, strict=True):
            text = value if not trace.entries else ""
            digest.update(f"{_type_name(link.exc)}\0{text}\0".encode("utf-8", "replace"))
            frames = [frame for frame, _ in trace.entries if self._frames.frame_in_app(frame)]
            # No in-app frame: the first frame stands in, as in PostHog's fingerprint.
            for frame in frames or [frame for frame, _ in trace.entries[:1]]:
                name = f"{frame.f_globals.get('__name__')}\0{frame.f_code.co_name}\0"
                digest.update(name.encode("utf-8", "replace"))
        return digest.hexdigest()

    def _trace_of(self, exc: BaseException, is_root: bool) -> _Trace:
        tb = chain.attribute(exc, "__traceback__")
        limit = self.options.max_frames
        if isinstance(tb, TracebackType):
            return _Trace(*self._frames.frames_of(tb, limit), synthetic=False)
        if is_root:
            # Never raised: the stack of the code that asked for the capture stands in.
            return _Trace(*self._frames.stack_of(current_frame(1), limit), synthetic=True)
        return _Trace([], 0, synthetic=False)

    def _entry(
        self,
        link: chain.Link,
        index: int,
        value: str,
        trace: _Trace,
        handled: bool,
        mechanism_type: str,
        budget: VariableBudget,
    ) -> dict[str, Any]:
        exc = link.exc
        mechanism: dict[str, Any] = {
            "type": mechanism_type if link.parent is None else MECHANISM_CHAINED,
            "handled": handled,
            "synthetic": trace.synthetic,
            "exception_id": index,
        }
        if link.parent is not None:
            mechanism["parent_id"] = link.parent
            mechanism["source"] = link.source
        if chain.is_group(exc):
            mechanism["is_exception_group"] = True
        module = type(exc).__module__
        entry: dict[str, Any] = {
            "type": _type_name(exc),
            "value": value,
            "module": None if module == "builtins" else clean_text(str(module), 1024),
            "mechanism": mechanism,
        }
        if trace.entries:
            entry["stacktrace"] = {"type": "raw", "frames": self._frames_json(trace, budget)}
        return entry

    def _frames_json(self, trace: _Trace, budget: VariableBudget) -> list[dict[str, Any]]:
        frames = [marker_frame(trace.dropped)] if trace.dropped else []
        for frame, lineno in trace.entries:
            out = self._frames.frame(frame, lineno, context=True)
            # A module's "locals" are its globals: not what code variables are for.
            if self._variables is not None and out["in_app"] and out["function"] != "<module>":
                variables = self._variables.read(frame, budget)
                if variables:
                    out["code_variables"] = variables
            frames.append(out)
        return frames


class _Trace:
    __slots__ = ("dropped", "entries", "synthetic")

    def __init__(self, entries: list[Entry], dropped: int, *, synthetic: bool) -> None:
        self.entries = entries
        self.dropped = dropped
        self.synthetic = synthetic


def _type_name(exc: BaseException) -> str:
    return clean_text(type(exc).__name__, 1024)


def _value_of(exc: BaseException, limit: int) -> str:
    try:
        text = str(exc)
    except Exception:
        try:
            text = repr(exc)
        except Exception:
            text = f"<{type(exc).__name__}: str() and repr() failed>"
    return mask_text(clean_text(text, limit))


def _mark_captured(exc: BaseException) -> None:
    try:
        setattr(exc, _CAPTURED_MARK, True)
    except Exception:  # a class that refuses attributes is captured again if asked
        pass


class _Matcher:
    """Exception types and dotted paths, matched against an exception's class and bases."""

    def __init__(self, items: tuple[type[BaseException] | str, ...]) -> None:
        self._types = tuple(item for item in items if isinstance(item, type))
        self._paths = frozenset(item for item in items if isinstance(item, str))

    def matches(self, exc: BaseException) -> bool:
        if self._types and isinstance(exc, self._types):
            return True
        if not self._paths:
            return False
        for cls in type(exc).__mro__:
            if f"{cls.__module__}.{cls.__qualname__}" in self._paths:
                return True
        return any(_names_class_of(path, exc) for path in self._paths)


def _names_class_of(path: str, exc: BaseException) -> bool:
    # A re-export (django.http.Http404 is django.http.response.Http404) matches only once
    # its module is imported, which it is by the time the framework raises it.
    module_name, _, name = path.rpartition(".")
    module = sys.modules.get(module_name)
    cls = getattr(module, name, None) if module is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)
