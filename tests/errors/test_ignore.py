"""is_ignored(): the frameworks' 4xx exceptions by dotted path, with no framework imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from posthog_web.errors import DEFAULT_IGNORED_EXCEPTIONS, ExceptionCapture, ExceptionOptions


class AppError(Exception):
    pass


class NotFoundHere(AppError):
    pass


def test_django_4xx_exceptions_are_ignored_by_default() -> None:
    from django.core.exceptions import (
        BadRequest,
        DisallowedHost,
        PermissionDenied,
        SuspiciousFileOperation,
    )
    from django.http import Http404

    capture = ExceptionCapture()
    for exc in (Http404(), PermissionDenied(), DisallowedHost(), SuspiciousFileOperation()):
        assert capture.is_ignored(exc), exc
    assert capture.is_ignored(BadRequest())
    assert not capture.is_ignored(ValueError())


def test_starlette_and_fastapi_http_exceptions_are_ignored_below_500() -> None:
    from fastapi import HTTPException as FastAPIHTTPException
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    capture = ExceptionCapture()
    assert capture.is_ignored(HTTPException(404))
    assert capture.is_ignored(FastAPIHTTPException(status_code=401))
    assert not capture.is_ignored(HTTPException(503))
    assert not capture.is_ignored(FastAPIHTTPException(status_code=500))
    assert capture.is_ignored(RequestValidationError([]))


def test_types_paths_and_subclasses() -> None:
    capture = ExceptionCapture(
        ExceptionOptions(
            ignore_exceptions=[AppError, "json.decoder.JSONDecodeError"], ignore_below_500=()
        )
    )
    assert capture.is_ignored(NotFoundHere())
    import json

    with pytest.raises(json.JSONDecodeError) as info:
        json.loads("{")
    assert capture.is_ignored(info.value)
    assert not capture.is_ignored(KeyError())


def test_a_re_exported_path_matches_once_its_module_is_imported() -> None:
    import django.http

    capture = ExceptionCapture(ExceptionOptions(ignore_exceptions=["django.http.Http404"]))
    assert capture.is_ignored(django.http.Http404())


def test_the_defaults_import_no_framework() -> None:
    code = (
        "import sys\n"
        "from posthog_web.errors import ExceptionCapture\n"
        "c = ExceptionCapture()\n"
        "assert not c.is_ignored(ValueError())\n"
        "loaded = [m for m in ('django', 'starlette', 'fastapi', 'rest_framework') "
        "if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("value", "error"),
    [("django.http.Http404", TypeError), ([42], ValueError), (["NoDots"], ValueError)],
)
def test_bad_ignore_lists_name_the_field(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="ignore_exceptions"):
        ExceptionOptions(ignore_exceptions=value)  # type: ignore[arg-type]


def test_the_default_list_is_dotted_paths() -> None:
    assert all(isinstance(p, str) and "." in p for p in DEFAULT_IGNORED_EXCEPTIONS)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"in_app": "shop"}, TypeError, "in_app"),
        ({"in_app": ["shop", ""]}, ValueError, "in_app"),
        ({"capture_code_variables": "yes"}, TypeError, "capture_code_variables"),
        ({"masked_variable_names": [None]}, ValueError, "masked_variable_names"),
        ({"ignore_below_500": "x.Y"}, TypeError, "ignore_below_500"),
        ({"max_value_chars": True}, ValueError, "max_value_chars"),
    ],
)
def test_bad_options_name_the_field(
    kwargs: dict[str, object], error: type[Exception], field: str
) -> None:
    with pytest.raises(error, match=field):
        ExceptionOptions(**kwargs)  # type: ignore[arg-type]
