"""Python frames as PostHog's raw stack trace wants them (errors-groups.md A.1, A.3)."""

from __future__ import annotations

import linecache
import os
import re
import sys
import sysconfig
from types import CodeType, FrameType, TracebackType
from typing import Any

from posthog_web.errors.masking import clean_text, mask_text

PLATFORM = "python"
CONTEXT_LINES = 5
#: PostHog cuts context lines to 300 characters; sending more only costs bytes.
MAX_LINE_CHARS = 300
_MAX_FALLBACK_SOURCE_BYTES = 4 * 1024 * 1024
_IN_APP_CACHE_SIZE = 4096
_MAX_NAME_CHARS = 1024

# Cymbal's own demotion rules for Python (core/types/langs/python.rs).
_PACKAGES_RE = re.compile(r"[\\/](site|dist)-packages[\\/]")
_STDLIB_RE = re.compile(r"[\\/]lib[\\/]python\d(\.\d+)?[\\/]")
_OWN_PACKAGE = "posthog_web"

Entry = tuple[FrameType, int]


def _stdlib_roots() -> tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(os.path.normcase(os.path.abspath(path)) + os.sep)
    return tuple(sorted(roots))


class FrameBuilder:
    """Turns traceback entries into frame dicts; computed rules and caches live here."""

    def __init__(self, in_app: tuple[str, ...] | None) -> None:
        self._in_app_prefixes = in_app
        self._stdlib = _stdlib_roots()
        self._in_app_cache: dict[tuple[str, str], bool] = {}

    def frames_of(self, tb: TracebackType | None, limit: int) -> tuple[list[Entry], int]:
        """The frames of ``tb`` (oldest call first) and how many older ones were dropped.

        Returns the traceback's (frame, line number) pairs; :meth:`frame` builds each.
        """
        entries: list[Entry] = []
        while tb is not None:
            entries.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
        return self._visible(entries, limit)

    def stack_of(self, frame: FrameType | None, limit: int) -> tuple[list[Entry], int]:
        """Like :meth:`frames_of` for a live stack (a synthetic trace), ``frame`` newest."""
        entries: list[Entry] = []
        while frame is not None:
            if not _is_own(frame.f_globals.get("__name__")):
                entries.append((frame, frame.f_lineno))
            frame = frame.f_back
        entries.reverse()
        return self._visible(entries, limit)

    def _visible(self, entries: list[Entry], limit: int) -> tuple[list[Entry], int]:
        shown = [entry for entry in entries if not _hidden(entry[0])]
        dropped = max(0, len(shown) - limit)
        return shown[dropped:], dropped

    def frame(self, frame: FrameType, lineno: int, *, context: bool) -> dict[str, Any]:
        """One raw Python frame dict."""
        code = frame.f_code
        module = frame.f_globals.get("__name__")
        module = clean_text(module, _MAX_NAME_CHARS) if isinstance(module, str) else None
        abs_path = clean_text(_abs_path(code.co_filename), _MAX_NAME_CHARS)
        out: dict[str, Any] = {
            "platform": PLATFORM,
            "filename": _short_filename(abs_path, module),
            "abs_path": abs_path,
            "module": module,
            "function": clean_text(code.co_name, _MAX_NAME_CHARS) or "<unknown>",
            "lineno": lineno if isinstance(lineno, int) and lineno >= 0 else None,
            "in_app": self.in_app(abs_path, module),
        }
        if context and out["lineno"]:
            _add_context(out, code, lineno, frame.f_globals)
        return out

    def frame_in_app(self, frame: FrameType) -> bool:
        """:meth:`in_app` for a live frame."""
        module = frame.f_globals.get("__name__")
        return self.in_app(
            _abs_path(frame.f_code.co_filename), module if isinstance(module, str) else None
        )

    def in_app(self, abs_path: str, module: str | None) -> bool:
        """Whether a frame in ``abs_path`` / ``module`` is the app's own code."""
        key = (abs_path, module or "")
        cached = self._in_app_cache.get(key)
        if cached is None:
            cached = self._decide_in_app(abs_path, module)
            if len(self._in_app_cache) >= _IN_APP_CACHE_SIZE:
                self._in_app_cache.clear()
            self._in_app_cache[key] = cached
        return cached

    def _decide_in_app(self, abs_path: str, module: str | None) -> bool:
        name = module or ""
        if _is_own(name):
            return False
        if self._in_app_prefixes is not None:
            return any(name == p or name.startswith(p + ".") for p in self._in_app_prefixes)
        if abs_path.startswith("<"):
            return not abs_path.startswith("<frozen")
        if _PACKAGES_RE.search(abs_path) or _STDLIB_RE.search(abs_path):
            return False
        normalized = os.path.normcase(abs_path)
        return not any(normalized.startswith(root) for root in self._stdlib)


def _is_own(module: object) -> bool:
    return isinstance(module, str) and (
        module == _OWN_PACKAGE or module.startswith(_OWN_PACKAGE + ".")
    )


_MARKER_FILENAME = "<posthog-web: frames omitted>"


def marker_frame(dropped: int) -> dict[str, Any]:
    """The frame that stands for ``dropped`` older frames left out."""
    return {
        "platform": PLATFORM,
        "filename": _MARKER_FILENAME,
        "function": f"<{dropped} older frames omitted>",
        "module": None,
        "lineno": None,
        "in_app": False,
    }


def omitted_by(frame: dict[str, Any]) -> int:
    """How many frames ``frame`` stands for if it is a :func:`marker_frame`, else 0."""
    if frame.get("filename") != _MARKER_FILENAME:
        return 0
    return int(str(frame["function"]).split()[0].lstrip("<"))


def _hidden(frame: FrameType) -> bool:
    # Reading f_locals copies them; only frames that declare the marker pay for it.
    names = frame.f_code.co_varnames
    if "__traceback_hide__" not in names and "__tracebackhide__" not in names:
        return False
    f_locals = frame.f_locals
    return bool(f_locals.get("__traceback_hide__") or f_locals.get("__tracebackhide__"))


def _abs_path(filename: str) -> str:
    if not filename or (filename.startswith("<") and filename.endswith(">")):
        return filename or "<unknown>"
    return os.path.abspath(filename)


def _short_filename(abs_path: str, module: str | None) -> str:
    # The path from the top-level package's parent: module a.b.c in .../a/b/c.py is a/b/c.py.
    if not module or abs_path.startswith("<"):
        return abs_path
    parts = re.split(r"[\\/]", abs_path)
    depth = 1 if module == "__main__" else module.count(".") + 1
    if parts[-1].startswith("__init__."):
        depth += 1
    return "/".join(parts[-depth:]) if depth < len(parts) else abs_path


def _add_context(out: dict[str, Any], code: CodeType, lineno: int, f_globals: Any) -> None:
    lines = _source_lines(code.co_filename, f_globals)
    if not lines or lineno > len(lines):
        return
    index = lineno - 1
    out["pre_context"] = [_line(text) for text in lines[max(0, index - CONTEXT_LINES) : index]]
    out["context_line"] = _line(lines[index])
    out["post_context"] = [_line(text) for text in lines[index + 1 : index + 1 + CONTEXT_LINES]]


def _line(text: str) -> str:
    return mask_text(clean_text(text.rstrip("\r\n"), MAX_LINE_CHARS))


def _source_lines(filename: str, f_globals: Any) -> list[str]:
    try:
        lines = linecache.getlines(filename, f_globals if isinstance(f_globals, dict) else None)
    except Exception:  # a loader's get_source() may raise anything (bad encodings included)
        lines = []
    if lines or not filename or filename.startswith("<"):
        return lines
    return _undecodable_source(filename)


_fallback_cache: dict[str, list[str]] = {}


def _undecodable_source(filename: str) -> list[str]:
    # linecache gives up on a file that is not valid in its declared encoding; its lines
    # are still worth showing, with the bad bytes replaced.
    if filename in _fallback_cache:
        return _fallback_cache[filename]
    lines: list[str] = []
    try:
        if os.path.getsize(filename) <= _MAX_FALLBACK_SOURCE_BYTES:
            with open(filename, "rb") as source:
                lines = source.read().decode("utf-8", "replace").splitlines()
    except (OSError, ValueError):
        lines = []
    if len(_fallback_cache) >= 256:
        _fallback_cache.clear()
    _fallback_cache[filename] = lines
    return lines


def current_frame(depth: int) -> FrameType | None:
    """The caller's frame ``depth`` levels up (for a never-raised exception's stack)."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None
