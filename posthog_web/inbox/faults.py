"""Fault injection for the inbox: failing statuses, latency, hung and dropped connections."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

FaultKind = Literal["fail", "hang", "drop"]


@dataclass(frozen=True)
class FaultAction:
    """What the server does with one capture request instead of accepting it."""

    kind: FaultKind
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    #: For "hang": how long to hold the connection (None = until the server stops).
    seconds: float | None = None


@dataclass
class _Fail:
    status: int
    headers: dict[str, str]


def _count(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _seconds(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds, got {value!r}")
    return float(value)


def _fraction(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def _status(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 100 <= value <= 599:
        raise ValueError(f"status must be an HTTP status code, got {value!r}")
    return value


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"headers must map strings to strings, got {value!r}")
    return dict(value)


class FaultInjector:
    """Decides, per capture request, whether the inbox misbehaves instead of accepting it.

    Several faults can be armed at once; for each request the first that applies wins, in this
    order: drop_next, hang_next, fail_next, fail_window, drop_fraction, fail_fraction. ``delay``
    applies to every capture request, faulted or not. Thread-safe.

    Args:
        clock: a monotonic clock in seconds (for tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._drop_next = 0
            self._hang_next = 0
            self._hang_seconds: float | None = None
            self._fail_next = 0
            self._fail_next_as = _Fail(503, {})
            self._window: tuple[float, float, _Fail] | None = None
            self._fail_fraction = 0.0
            self._fail_fraction_as = _Fail(503, {})
            self._fail_rng = random.Random(0)
            self._drop_fraction = 0.0
            self._drop_rng = random.Random(0)
            self._delay = 0.0

    def fail_next(self, n: int, status: int = 503, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``n`` capture requests with ``status`` and ``headers``; store nothing."""
        fail = _Fail(_status(status), _headers(headers))
        with self._lock:
            self._fail_next = _count("n", n)
            self._fail_next_as = fail

    def fail_window(
        self,
        seconds: float,
        status: int = 503,
        headers: dict[str, str] | None = None,
        start: float = 0.0,
    ) -> None:
        """Fail every capture request for ``seconds``, beginning ``start`` seconds from now."""
        fail = _Fail(_status(status), _headers(headers))
        begin = self._clock() + _seconds("start", start)
        with self._lock:
            self._window = (begin, begin + _seconds("seconds", seconds), fail)

    def fail_fraction(self, p: float, status: int = 503, seed: int = 0) -> None:
        """Fail a deterministic pseudo-random fraction ``p`` of capture requests."""
        fail = _Fail(_status(status), {})
        with self._lock:
            self._fail_fraction = _fraction("p", p)
            self._fail_fraction_as = fail
            self._fail_rng = random.Random(_count("seed", seed))

    def drop_fraction(self, p: float, seed: int = 0) -> None:
        """Drop the connection (no response) for a pseudo-random fraction ``p`` of requests."""
        with self._lock:
            self._drop_fraction = _fraction("p", p)
            self._drop_rng = random.Random(_count("seed", seed))

    def delay(self, seconds: float) -> None:
        """Add ``seconds`` of latency before answering every capture request (0 disarms)."""
        with self._lock:
            self._delay = _seconds("seconds", seconds)

    def hang_next(self, n: int, seconds: float | None = None) -> None:
        """Read the next ``n`` requests and never answer them (until ``seconds`` or stop)."""
        hold = None if seconds is None else _seconds("seconds", seconds)
        with self._lock:
            self._hang_next = _count("n", n)
            self._hang_seconds = hold

    def drop_next(self, n: int) -> None:
        """Close the connection of the next ``n`` capture requests without any response."""
        with self._lock:
            self._drop_next = _count("n", n)

    @property
    def latency(self) -> float:
        """The delay added to every capture request, in seconds."""
        with self._lock:
            return self._delay

    def next_action(self) -> FaultAction | None:
        """Consume the fault for one capture request; None means "accept it normally"."""
        with self._lock:
            if self._drop_next:
                self._drop_next -= 1
                return FaultAction("drop")
            if self._hang_next:
                self._hang_next -= 1
                return FaultAction("hang", seconds=self._hang_seconds)
            if self._fail_next:
                self._fail_next -= 1
                return _fail_action(self._fail_next_as)
            if self._window is not None:
                begin, end, fail = self._window
                now = self._clock()
                if begin <= now < end:
                    return _fail_action(fail)
                if now >= end:
                    self._window = None
            if self._drop_fraction and self._drop_rng.random() < self._drop_fraction:
                return FaultAction("drop")
            if self._fail_fraction and self._fail_rng.random() < self._fail_fraction:
                return _fail_action(self._fail_fraction_as)
            return None

    def describe(self) -> dict[str, Any]:
        """The armed faults, as JSON for ``GET /api/faults``."""
        with self._lock:
            window = None
            if self._window is not None:
                now = self._clock()
                begin, end, fail = self._window
                window = {
                    "starts_in": max(0.0, begin - now),
                    "ends_in": max(0.0, end - now),
                    "status": fail.status,
                }
            return {
                "drop_next": self._drop_next,
                "hang_next": self._hang_next,
                "fail_next": self._fail_next,
                "fail_window": window,
                "fail_fraction": self._fail_fraction,
                "drop_fraction": self._drop_fraction,
                "delay": self._delay,
            }

    def configure(self, spec: Any) -> None:
        """Apply a JSON fault description such as ``{"fail_next": {"n": 2, "status": 429}}``.

        Keys are the method names (``fail_next``, ``fail_window``, ``fail_fraction``,
        ``drop_fraction``, ``delay``, ``hang_next``, ``drop_next``) with an object of their
        keyword arguments (or a bare number for the first argument), plus ``"reset": true``, which
        is applied first. Raises ValueError naming the bad key.
        """
        if not isinstance(spec, dict) or not spec:
            raise ValueError("the fault description must be a non-empty JSON object")
        unknown = set(spec) - set(_METHODS) - {"reset"}
        if unknown:
            raise ValueError(f"unknown fault {sorted(unknown)[0]!r}")
        if spec.get("reset"):
            self.reset()
        for name, first in _METHODS.items():
            if name not in spec:
                continue
            args = spec[name]
            kwargs = args if isinstance(args, dict) else {first: args}
            try:
                getattr(self, name)(**kwargs)
            except TypeError as exc:
                raise ValueError(f"{name}: {exc}") from None


# Each configurable fault and the name of its first argument.
_METHODS = {
    "drop_next": "n",
    "hang_next": "n",
    "fail_next": "n",
    "fail_window": "seconds",
    "fail_fraction": "p",
    "drop_fraction": "p",
    "delay": "seconds",
}


def _fail_action(fail: _Fail) -> FaultAction:
    return FaultAction("fail", status=fail.status, headers=dict(fail.headers))
