"""TrackerOptionArgs, the middlewares' typed keyword arguments, lists TrackerOptions' fields."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from posthog_web.asgi import PostHogMiddleware as ASGIMiddleware
from posthog_web.web.option_args import TrackerOptionArgs, Unpack
from posthog_web.web.options import TrackerOptions
from posthog_web.wsgi import PostHogMiddleware as WSGIMiddleware


def test_the_same_names_and_types_in_the_same_order() -> None:
    fields = [(field.name, field.type) for field in dataclasses.fields(TrackerOptions)]
    args = [(name, ref.__forward_arg__) for name, ref in TrackerOptionArgs.__annotations__.items()]
    assert args == fields


def test_every_option_is_optional() -> None:
    assert TrackerOptionArgs.__required_keys__ == frozenset()
    names = {field.name for field in dataclasses.fields(TrackerOptions)}
    assert TrackerOptionArgs.__optional_keys__ == names


@pytest.mark.parametrize("middleware", [ASGIMiddleware, WSGIMiddleware])
def test_the_middlewares_take_them_as_keyword_arguments(middleware: type) -> None:
    options = inspect.signature(middleware).parameters["options"]
    assert options.kind is inspect.Parameter.VAR_KEYWORD
    assert options.annotation == "Unpack[TrackerOptionArgs]"
    # Resolvable at run time too (introspection, documentation tools).
    hints = typing.get_type_hints(middleware.__init__)
    assert hints["options"] == Unpack[TrackerOptionArgs]


@pytest.mark.parametrize("middleware", [ASGIMiddleware, WSGIMiddleware])
def test_an_unknown_option_is_still_refused_at_run_time(middleware: type) -> None:
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\): filter_bot$"):
        middleware(lambda *args: None, client=None, filter_bot=False)
