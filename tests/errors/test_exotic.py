"""Exotic exceptions, generated: each gives a valid $exception or a logged skip, never a raise."""

from __future__ import annotations

import builtins
import itertools
import logging
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from posthog_web import events as ev
from posthog_web.errors import ExceptionCapture, ExceptionOptions
from posthog_web.inbox.exceptions import exception_problems

BASES: list[type[BaseException]] = [
    Exception,
    ValueError,
    KeyError,
    OSError,
    UnicodeDecodeError,
    RecursionError,
    GeneratorExit,
    SystemExit,
]
GROUP: type[BaseException] | None = builtins.__dict__.get("ExceptionGroup")

texts = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=5),
    st.integers(min_value=0, max_value=3).map(lambda n: "m" * (10 ** (n + 3))),
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def make_class(draw: st.DrawFn) -> type[BaseException]:
    base = draw(st.sampled_from(BASES))
    namespace: dict[str, Any] = {}
    if draw(st.booleans()):
        namespace["__str__"] = _raising if draw(st.booleans()) else _returning(draw(texts))
    if draw(st.booleans()):
        namespace["__repr__"] = _raising
    if draw(st.integers(0, 7)) == 0:
        namespace["__getattribute__"] = _hostile
    if draw(st.booleans()):
        namespace["__module__"] = draw(st.sampled_from([None, 42, "", "a.b", "\udcff"]))
    name = draw(st.sampled_from(["Custom", "Ünïcode", "with space", "x" * 3000]))
    return type(name, (base,), namespace)


def _raising(self: BaseException) -> str:
    raise RuntimeError("this method always fails")


def _hostile(self: BaseException, name: str) -> Any:
    if name.startswith("__posthog") or name == "__cause__":
        raise RuntimeError(f"no {name} here")
    return BaseException.__getattribute__(self, name)


def _returning(text: str) -> Any:
    def method(self: BaseException) -> str:
        return text

    return method


def _build(cls: type[BaseException], args: tuple[Any, ...]) -> BaseException:
    try:
        return cls(*args)
    except Exception:
        return Exception(*args)


def nest(depth: int, exc: BaseException) -> None:
    if depth > 0:
        nest(depth - 1, exc)
    raise exc


def raise_deep(exc: BaseException, depth: int) -> BaseException:
    try:
        nest(depth, exc)
    except BaseException as caught:
        return caught
    raise AssertionError("unreachable")


@st.composite
def exceptions(draw: st.DrawFn, level: int = 0) -> BaseException:
    if GROUP is not None and level < 2 and draw(st.integers(0, 5)) == 0:
        members = draw(st.lists(exceptions(level + 1), min_size=1, max_size=4))
        exc: BaseException = GROUP(
            "group", [m for m in members if isinstance(m, Exception)] or [ValueError("x")]
        )
    else:
        args = tuple(draw(st.lists(texts, max_size=2)))
        exc = _build(make_class(draw), args)
    if draw(st.booleans()):
        # Past the recursion limit the nesting itself ends in a RecursionError: reported too.
        exc = raise_deep(exc, draw(st.sampled_from([0, 3, 200, 2500])))
    return exc


@st.composite
def chained(draw: st.DrawFn) -> BaseException:
    chain = draw(st.lists(exceptions(), min_size=1, max_size=4))
    for outer, inner in itertools.pairwise(chain):
        if draw(st.booleans()):
            outer.__cause__ = inner
        else:
            outer.__context__ = inner
        outer.__suppress_context__ = draw(st.booleans())
    if len(chain) > 1 and draw(st.booleans()):
        chain[-1].__context__ = chain[0]  # a cycle
    return chain[0]


@given(exc=chained(), variables=st.booleans(), handled=st.booleans())
def test_every_exotic_exception_gives_a_valid_event_or_a_logged_skip(
    exc: BaseException, variables: bool, handled: bool
) -> None:
    capture = ExceptionCapture(
        ExceptionOptions(capture_code_variables=variables, flood_limit=10**6)
    )
    handler = Records()
    logger = logging.getLogger("posthog_web")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        props = capture.build(exc, handled=handled, mechanism_type="middleware")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    if props is None:
        assert handler.records, "a skip must be logged"
        return
    assert exception_problems(props) == []
    encoded = ev.encode_json(props)
    encoded.decode("utf-8")
    assert len(encoded) <= ev.MAX_EVENT_BYTES
    assert props[ev.PROP_EXCEPTION_LIST][0]["mechanism"]["handled"] is handled
