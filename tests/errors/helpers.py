"""Helpers for the error-tracking tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture
from posthog_web.inbox.exceptions import exception_problems


def raised(exc: BaseException) -> BaseException:
    """``exc`` after being raised and caught (so it has a traceback)."""
    try:
        raise exc
    except BaseException as caught:
        return caught


def build_valid(capture: ExceptionCapture, exc: BaseException, **kwargs: Any) -> dict[str, Any]:
    """Build ``exc``'s properties and check them as the inbox does; return them."""
    kwargs.setdefault("handled", True)
    props = capture.build(exc, **kwargs)
    assert props is not None, "nothing was built"
    assert exception_problems(props) == []
    encoded = ev.encode_json(props)
    encoded.decode("utf-8")  # strict: PostHog refuses invalid UTF-8
    assert len(encoded) <= ev.MAX_EVENT_BYTES
    json.loads(encoded)
    return props


def frames_of(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """An entry's frames ([] without a stack trace)."""
    stacktrace = entry.get("stacktrace")
    return list(stacktrace["frames"]) if stacktrace else []


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at ``path`` as module ``name`` (removed again by the caller's fixture)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
