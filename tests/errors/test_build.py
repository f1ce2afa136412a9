"""The $exception properties ExceptionCapture builds: order, chains, frames, limits."""

from __future__ import annotations

import builtins
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture, ExceptionOptions
from tests.errors.helpers import build_valid, frames_of, load_module, raised


@pytest.fixture
def capture() -> ExceptionCapture:
    return ExceptionCapture(ExceptionOptions(flood_limit=1000))


def parse_amount(raw: str) -> int:
    return int(raw)


def checkout(order: dict[str, str]) -> int:
    try:
        return parse_amount(order["amount"])
    except ValueError as exc:
        raise RuntimeError("checkout failed") from exc


def test_the_outermost_exception_comes_first_then_its_cause(capture: ExceptionCapture) -> None:
    with pytest.raises(RuntimeError) as info:
        checkout({"amount": "12.5x"})
    props = build_valid(capture, info.value, handled=False, mechanism_type="middleware")
    outer, cause = props[ev.PROP_EXCEPTION_LIST]
    assert (outer["type"], outer["value"], outer["module"]) == (
        "RuntimeError",
        "checkout failed",
        None,
    )
    assert outer["mechanism"] == {
        "type": "middleware",
        "handled": False,
        "synthetic": False,
        "exception_id": 0,
    }
    assert cause["type"] == "ValueError"
    assert cause["mechanism"]["source"] == "cause"
    assert cause["mechanism"]["parent_id"] == 0
    assert cause["mechanism"]["type"] == "chained"
    assert props[ev.PROP_EXCEPTION_LEVEL] == "error"
    # Oldest call first, the raising frame last; each exception has its own frames.
    assert [f["function"] for f in frames_of(outer)][-1] == "checkout"
    assert [f["function"] for f in frames_of(cause)][-2:] == ["checkout", "parse_amount"]


def test_a_frame_has_every_field_posthog_reads(capture: ExceptionCapture) -> None:
    with pytest.raises(RuntimeError) as info:
        checkout({"amount": "x"})
    props = build_valid(capture, info.value)
    frame = frames_of(props[ev.PROP_EXCEPTION_LIST][1])[-1]
    assert frame["platform"] == "python"
    assert frame["abs_path"] == str(Path(__file__).resolve())
    assert frame["filename"] == "tests/errors/test_build.py"
    assert frame["module"] == __name__
    assert frame["function"] == "parse_amount"
    assert frame["in_app"] is True
    assert frame["context_line"] == "    return int(raw)"
    assert frame["pre_context"][-1] == "def parse_amount(raw: str) -> int:"
    assert 0 < len(frame["pre_context"]) <= 5
    assert len(frame["post_context"]) == 5
    assert isinstance(frame["lineno"], int)


def test_implicit_context_is_followed_and_suppressed_context_is_not(
    capture: ExceptionCapture,
) -> None:
    def implicit() -> None:
        try:
            {}["missing"]
        except KeyError:
            raise TypeError("while handling")  # noqa: B904 - the implicit context is the point

    with pytest.raises(TypeError) as info:
        implicit()
    types = [e["type"] for e in build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST]]
    assert types == ["TypeError", "KeyError"]
    assert info.value.__context__ is not None

    def suppressed() -> None:
        try:
            {}["missing"]
        except KeyError:
            raise TypeError("clean") from None

    with pytest.raises(TypeError) as info2:
        suppressed()
    entries = build_valid(capture, info2.value)[ev.PROP_EXCEPTION_LIST]
    assert [e["type"] for e in entries] == ["TypeError"]


def test_context_source_is_named(capture: ExceptionCapture) -> None:
    try:
        try:
            raise KeyError("inner")
        except KeyError:
            raise ValueError("outer")  # noqa: B904 - the implicit context is the point
    except ValueError as exc:
        entries = build_valid(capture, exc)[ev.PROP_EXCEPTION_LIST]
    assert entries[1]["mechanism"]["source"] == "context"


def test_a_cycle_in_the_chain_ends(capture: ExceptionCapture) -> None:
    first, second = raised(ValueError("a")), raised(KeyError("b"))
    first.__cause__ = second
    second.__cause__ = first
    entries = build_valid(capture, first)[ev.PROP_EXCEPTION_LIST]
    assert [e["type"] for e in entries] == ["ValueError", "KeyError"]


def test_a_long_chain_is_capped() -> None:
    capture = ExceptionCapture()
    exc = raised(ValueError("0"))
    for index in range(1, 200):
        wrapper = ValueError(str(index))
        wrapper.__cause__ = exc
        exc = wrapper
    entries = build_valid(capture, exc)[ev.PROP_EXCEPTION_LIST]
    assert len(entries) == 50
    assert entries[0]["value"] == "199"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception groups are Python 3.11+")
def test_exception_groups_list_their_members(capture: ExceptionCapture) -> None:
    group = builtins.__dict__["ExceptionGroup"]

    def fail(message: str) -> None:
        raise ValueError(message)

    errors: list[Exception] = []
    for message in ("one", "two"):
        try:
            fail(message)
        except ValueError as exc:
            errors.append(exc)
    errors.append(KeyError("never raised"))
    with pytest.raises(group) as info:
        raise group("several", [*errors, group("nested", [OSError(5, "io")])])
    entries = build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST]
    assert [e["type"] for e in entries] == [
        "ExceptionGroup",
        "ValueError",
        "ValueError",
        "KeyError",
        "ExceptionGroup",
        "OSError",
    ]
    assert entries[0]["mechanism"]["is_exception_group"] is True
    assert [e["mechanism"].get("source") for e in entries[1:]] == ["member"] * 5
    assert entries[5]["mechanism"]["parent_id"] == 4
    assert frames_of(entries[1])[-1]["function"] == "fail"
    assert "stacktrace" not in entries[3]  # members never raised on their own


class BadStr(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


class BadBoth(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_str_or_repr_that_raises_still_gives_an_event(capture: ExceptionCapture) -> None:
    entry = build_valid(capture, raised(BadStr("x")))[ev.PROP_EXCEPTION_LIST][0]
    assert entry["type"] == "BadStr"
    assert "BadStr" in entry["value"]
    entry = build_valid(capture, raised(BadBoth()))[ev.PROP_EXCEPTION_LIST][0]
    assert entry["value"] == "<BadBoth: str() and repr() failed>"
    assert entry["module"] == __name__


def test_a_huge_message_is_capped(capture: ExceptionCapture) -> None:
    entry = build_valid(capture, raised(ValueError("x" * 5_000_000)))[ev.PROP_EXCEPTION_LIST][0]
    assert len(entry["value"]) == 8192
    assert entry["value"].endswith("…")


def test_lone_surrogates_become_valid_utf8(capture: ExceptionCapture) -> None:
    entry = build_valid(capture, raised(ValueError("bad \udcff byte")))[ev.PROP_EXCEPTION_LIST][0]
    assert entry["value"].startswith("bad ")
    assert "\udcff" not in entry["value"]


def recurse(depth: int) -> int:
    return recurse(depth + 1) + 1


def test_a_recursion_error_keeps_the_newest_frames_and_a_marker(
    capture: ExceptionCapture,
) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        with pytest.raises(RecursionError) as info:
            recurse(0)
    finally:
        sys.setrecursionlimit(limit)
    frames = frames_of(build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0])
    assert len(frames) == 101
    marker, *kept = frames
    assert marker["in_app"] is False
    assert marker["function"].endswith("older frames omitted>")
    omitted = int(marker["function"].split()[0].lstrip("<"))
    assert omitted > 4000
    assert all(f["function"] == "recurse" for f in kept)


def test_the_event_is_kept_under_the_size_limit() -> None:
    capture = ExceptionCapture(ExceptionOptions(max_frames=2000, max_value_chars=10**6))

    def deep(depth: int) -> None:
        if depth == 0:
            raise ValueError("y" * 400_000)
        deep(depth - 1)

    errors = []
    for _ in range(3):
        try:
            deep(900)
        except ValueError as exc:
            errors.append(exc)
    errors[0].__cause__ = errors[1]
    errors[1].__cause__ = errors[2]
    props = build_valid(capture, errors[0], context_properties={"route": "/x"})
    assert len(ev.encode_json(props)) <= ev.MAX_EVENT_BYTES - 4096
    assert props["route"] == "/x"
    assert props[ev.PROP_EXCEPTION_LIST][0]["type"] == "ValueError"


def test_context_properties_that_alone_are_too_big_are_a_logged_skip(
    capture: ExceptionCapture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        props = capture.build(
            raised(ValueError("x")), handled=True, context_properties={"blob": "z" * 2**20}
        )
    assert props is None
    assert "too big" in caplog.text


def test_unencodable_context_properties_are_a_logged_skip(
    capture: ExceptionCapture, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="posthog_web"):
        props = capture.build(raised(ValueError("x")), handled=True, context_properties={"o": 1j})
    assert props is None
    assert "could not build $exception" in caplog.text


def test_a_never_raised_exception_gets_a_synthetic_stack(capture: ExceptionCapture) -> None:
    entry = build_valid(capture, ValueError("never raised"))[ev.PROP_EXCEPTION_LIST][0]
    assert entry["mechanism"]["synthetic"] is True
    functions = [f["function"] for f in frames_of(entry)]
    # The stack of the code that asked (build_valid called build); no posthog_web frame.
    assert functions[-2:] == ["test_a_never_raised_exception_gets_a_synthetic_stack", "build_valid"]
    assert not any(f["module"].startswith("posthog_web") for f in frames_of(entry))


def test_an_exception_is_built_once(capture: ExceptionCapture) -> None:
    exc = raised(ValueError("once"))
    assert capture.build(exc, handled=True) is not None
    assert capture.build(exc, handled=True) is None


def test_frames_of_installed_packages_and_the_stdlib_are_not_in_app(
    capture: ExceptionCapture,
) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        json.loads("{")
    frames = frames_of(build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0])
    by_module = {f["module"]: f["in_app"] for f in frames}
    assert by_module[__name__] is True
    assert by_module["json.decoder"] is False
    in_venv = "/site-packages/" + "pytest/x.py"
    assert capture._frames.in_app("/srv/.venv/lib/python3.11" + in_venv, "pytest.x") is False
    assert capture._frames.in_app("<frozen importlib._bootstrap>", "importlib") is False
    assert capture._frames.in_app("/srv/app/posthog_web/asgi.py", "posthog_web.asgi") is False
    assert capture._frames.in_app("/srv/app/shop/views.py", "shop.views") is True


def test_in_app_prefixes_decide_alone() -> None:
    capture = ExceptionCapture(ExceptionOptions(in_app=["shop", "billing."]))
    in_app = capture._frames.in_app
    assert in_app("/srv/app/shop/views.py", "shop.views") is True
    assert in_app("/srv/x/site-packages/billing/api.py", "billing.api") is True
    assert in_app("/srv/app/shopping/views.py", "shopping.views") is False
    assert in_app("/srv/app/tests/test_x.py", "tests.test_x") is False


def test_undecodable_and_missing_source_files(
    capture: ExceptionCapture, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # CPython runs a file whose comment holds a Latin-1 byte; linecache cannot read it.
    source = tmp_path / "legacy_mod.py"
    source.write_bytes(
        b"def boom():\n    x = 1  # caf\xe9\n    raise ValueError('latin-1 bytes in a comment')\n"
    )
    request.addfinalizer(lambda: sys.modules.pop("legacy_mod", None))
    module = load_module(source, "legacy_mod")
    with pytest.raises(ValueError) as info:
        module.boom()
    frame = frames_of(build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0])[-1]
    assert frame["context_line"] == "    raise ValueError('latin-1 bytes in a comment')"
    assert "\ufffd" in frame["pre_context"][-1]

    namespace: dict[str, Any] = {"__name__": "legacy_mod"}
    gone = tmp_path / "gone.py"
    exec(compile("def boom():\n    raise KeyError('k')\n", str(gone), "exec"), namespace)
    with pytest.raises(KeyError) as info2:
        namespace["boom"]()
    frame = frames_of(build_valid(capture, info2.value)[ev.PROP_EXCEPTION_LIST][0])[-1]
    assert frame["function"] == "boom"
    assert "context_line" not in frame

    exec(compile("def boom():\n    raise KeyError('s')\n", "<string>", "exec"), namespace)
    with pytest.raises(KeyError) as info3:
        namespace["boom"]()
    frame = frames_of(build_valid(capture, info3.value)[ev.PROP_EXCEPTION_LIST][0])[-1]
    assert frame["filename"] == "<string>"


def test_hidden_frames_are_left_out(capture: ExceptionCapture) -> None:
    def helper() -> None:
        __traceback_hide__ = True
        raise ValueError("from a hidden helper")

    with pytest.raises(ValueError) as info:
        helper()
    functions = [
        f["function"]
        for f in frames_of(build_valid(capture, info.value)[ev.PROP_EXCEPTION_LIST][0])
    ]
    assert "helper" not in functions


def test_urls_with_passwords_are_masked_in_messages_and_source(
    capture: ExceptionCapture,
) -> None:
    def connect() -> None:
        dsn = "postgresql://admin:hunter2@db.internal/app"
        raise ConnectionError(f"cannot reach {dsn}; header Bearer abcdefghijklmnop")

    with pytest.raises(ConnectionError) as info:
        connect()
    text = json.dumps(build_valid(capture, info.value))
    # Spelled in two parts: this test's own lines are in the context lines too.
    assert "hunter" + "2" not in text
    assert "abcdefgh" + "ijklmnop" not in text
    assert "postgresql://admin:[masked]@db.internal/app" in text


def test_level_source_and_context_properties(capture: ExceptionCapture) -> None:
    props = build_valid(
        capture,
        raised(ValueError("x")),
        level="fatal",
        source="python.sys_excepthook",
        context_properties={"$session_id": "s", ev.PROP_EXCEPTION_LIST: "overridden"},
    )
    assert props[ev.PROP_EXCEPTION_LEVEL] == "fatal"
    assert props["$exception_source"] == "python.sys_excepthook"
    assert props["$session_id"] == "s"
    assert isinstance(props[ev.PROP_EXCEPTION_LIST], list)
