"""What the middleware's ``groups=`` callable is given: a Starlette ``Request`` or the scope.

Starlette and FastAPI put the application in ``scope["app"]`` before any middleware runs,
so their requests get a ``starlette.requests.Request`` over the same scope (its
``state`` and, once routed, ``path_params`` included); any other ASGI app gets the scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from posthog_web.asgi.types import Scope

try:
    from starlette.requests import Request
except ImportError:  # a plain ASGI app without Starlette installed
    Request = None  # type: ignore[assignment,misc]

__all__ = ["GroupsFn", "groups_source"]

GroupsFn = Callable[[Any], "Mapping[str, Any] | None"]


def groups_source(groups: GroupsFn, scope: Scope) -> Callable[[], object]:
    """The request's groups callable, bound to what it is given (built on first use)."""
    return functools.partial(_call, groups, scope)


def _call(groups: GroupsFn, scope: Scope) -> object:
    if Request is not None and "app" in scope:
        return groups(Request(scope))
    return groups(scope)
