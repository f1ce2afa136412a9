"""Small parts: the size trimming order, the hooks' chaining, attribute-refusing classes."""

from __future__ import annotations

import logging
import sys
import threading
from types import SimpleNamespace
from typing import Any

import pytest

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture
from posthog_web.errors.frames import marker_frame, omitted_by
from posthog_web.errors.hooks import MAIN, THREAD, UncaughtHooks
from posthog_web.errors.size import fit_to_size
from tests.errors.helpers import build_valid, raised


def frame(index: int, **extra: Any) -> dict[str, Any]:
    return {"platform": "python", "filename": "a.py", "function": f"f{index}", **extra}


def props_with(frames: list[dict[str, Any]], count: int = 1) -> dict[str, Any]:
    entries = [
        {
            "type": "E",
            "value": "v",
            "stacktrace": {"type": "raw", "frames": [dict(f) for f in frames]},
        }
        for _ in range(count)
    ]
    return {ev.PROP_EXCEPTION_LIST: entries}


def size(props: dict[str, Any]) -> int:
    return len(ev.encode_json(props))


def test_code_variables_go_first_then_source_lines() -> None:
    def frames() -> list[dict[str, Any]]:
        return [frame(i, code_variables={"x": "v" * 500}, context_line="c" * 100) for i in range(4)]

    props = props_with(frames())
    assert fit_to_size(props, size(props) - 1000)
    kept = props[ev.PROP_EXCEPTION_LIST][0]["stacktrace"]["frames"]
    assert len(kept) == 4
    assert all("code_variables" not in f and f["context_line"] for f in kept)

    props = props_with(frames())
    assert fit_to_size(props, size(props) - 2300)
    kept = props[ev.PROP_EXCEPTION_LIST][0]["stacktrace"]["frames"]
    assert len(kept) == 4
    assert all("context_line" not in f for f in kept)


def test_then_older_frames_then_the_chain_then_the_message() -> None:
    frames = [frame(i, context_line="c" * 50) for i in range(64)]
    props = props_with(frames, count=3)
    assert fit_to_size(props, size(props) // 4)
    entries = props[ev.PROP_EXCEPTION_LIST]
    assert len(entries) == 3
    kept = entries[0]["stacktrace"]["frames"]
    assert omitted_by(kept[0]) == 64 - (len(kept) - 1)
    assert kept[-1]["function"] == "f63"

    props = props_with(frames, count=3)
    props[ev.PROP_EXCEPTION_LIST][0]["value"] = "m" * 50_000
    assert fit_to_size(props, 2000)
    [entry] = props[ev.PROP_EXCEPTION_LIST]
    assert len(entry["value"]) == 1024
    assert not fit_to_size(props_with([frame(0)]) | {"x": "y" * 5000}, 1000)


def test_the_marker_counts_frames() -> None:
    assert omitted_by(marker_frame(7)) == 7
    assert omitted_by(frame(1)) == 0


def test_hooks_chain_to_the_previous_ones_and_survive_a_failing_report(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[str, Any]] = []
    monkeypatch.setattr(sys, "excepthook", lambda *args: seen.append(("sys", args[1])))
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(("thread", args)))
    reports: list[tuple[BaseException, str]] = []

    def report(exc: BaseException, where: str) -> None:
        reports.append((exc, where))
        raise RuntimeError("the report itself failed")

    hooks = UncaughtHooks(report).install()
    assert hooks.install() is hooks
    error = raised(ValueError("main"))
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        sys.excepthook(ValueError, error, error.__traceback__)
    args = SimpleNamespace(exc_type=KeyError, exc_value=KeyError("t"), exc_traceback=None)
    threading.excepthook(args)
    exit_args = SimpleNamespace(exc_type=SystemExit, exc_value=SystemExit(0), exc_traceback=None)
    threading.excepthook(exit_args)
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
    hooks.uninstall()
    hooks.uninstall()
    assert [where for _, where in reports] == [MAIN, THREAD]
    assert [kind for kind, _ in seen] == ["sys", "thread", "thread", "sys"]
    assert "could not report an uncaught exception" in caplog.text


def test_hooks_leave_a_later_hook_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    hooks = UncaughtHooks(lambda exc, where: None, threads=False).install()

    def later(*args: Any) -> None:
        pass

    sys.excepthook = later
    hooks.uninstall()
    assert sys.excepthook is later


class Frozen(Exception):
    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("frozen")


def test_a_class_refusing_attributes_is_built_each_time() -> None:
    capture = ExceptionCapture()
    exc = raised(Frozen("x"))
    build_valid(capture, exc)
    build_valid(capture, exc)
