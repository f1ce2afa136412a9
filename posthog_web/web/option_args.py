"""The tracker's options as keyword arguments: :class:`TrackerOptionArgs`, for type checkers.

The ASGI and WSGI middlewares take every :class:`~posthog_web.web.options.TrackerOptions`
field as a keyword argument (``**options: Unpack[TrackerOptionArgs]``), so mypy and
pyright check an option's name and type where the middleware is configured, and
Starlette's ``add_middleware`` / ``Middleware(...)`` accept the class: their ParamSpec
does not match a signature ending in ``**options: Any``. The defaults, the checks and
the documentation stay in :class:`TrackerOptions`; a test keeps the two field lists
the same. ``Unpack`` is importable at run time too, so ``typing.get_type_hints`` and
``inspect.signature(eval_str=True)`` still resolve the middlewares' signatures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover - Python 3.10 (the dependency is declared for it alone)
    from typing_extensions import Unpack

if TYPE_CHECKING:
    from posthog_web.web.privacy import CookielessMode, IPMode
    from posthog_web.web.request import RequestView, ResponseView

__all__ = ["TrackerOptionArgs", "Unpack"]


class TrackerOptionArgs(TypedDict, total=False):
    """Each option of :class:`~posthog_web.web.options.TrackerOptions`, all optional."""

    exclude_paths: Sequence[str]
    include_paths: Sequence[str]
    static_prefixes: Sequence[str]
    record_pageview: Callable[[RequestView, ResponseView], bool | None] | None
    person_profiles: Literal["identified_only", "always"]
    anonymous_cookie_name: str
    cookie_secret: str | bytes | None
    cookie_max_age: int
    cookie_secure: bool | None
    cookie_domain: str | None
    capture_tracing_headers: bool
    read_posthog_js_cookie: bool
    session_idle_timeout_seconds: int
    filter_bots: bool
    bot_user_agents: Sequence[str]
    bot_pageviews: bool
    session_cookie_name: str
    posthog_js_src: str
    posthog_js_api_host: str | None
    posthog_js_options: Mapping[str, Any] | None
    masked_query_params: Sequence[str]
    kept_query_params: Sequence[str]
    query_allowlist: bool
    trusted_proxies: Sequence[str]
    ip_mode: IPMode
    respect_gpc: bool
    respect_dnt: bool
    cookieless_mode: CookielessMode
    remember_login: bool
    capture_exceptions: bool
    ignore_exceptions: Sequence[type[BaseException] | str] | None
    in_app: Sequence[str] | None
    capture_code_variables: bool | None
