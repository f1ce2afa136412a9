"""The posthog-js loader and ``posthog.init(...)`` that continue the server's visitor.

The page's posthog-js starts with ``bootstrap: {distinctID, isIdentifiedID, sessionID}``
from the request (posthog-ingestion.md §5.4), so browser and server events share one
person and one session from the first page on, and ``capture_pageview: False`` because
the server already records page views (both would count them: §6.3 "Double counting").

Django: ``{% load posthog_web %}{% posthog_snippet %}``. Jinja2 (Starlette, FastAPI):
``templates.env.globals["posthog_snippet"] = posthog_snippet``, then
``{{ posthog_snippet(request) }}``. Anything else: ``posthog_snippet()`` inside a request.
The result is marked safe for both template engines (``__html__``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from posthog_web.web.helper import RequestHelper, current
from posthog_web.web.posthog_js import (
    DEFAULT_POSTHOG_JS_SRC,
    PostHogJS,
    SafeHTML,
    render_snippet,
    script_json,
)

# The names before posthog_js.py existed stay importable from here.
__all__ = [
    "DEFAULT_POSTHOG_JS_SRC",
    "PostHogJS",
    "SafeHTML",
    "helper_for",
    "posthog_snippet",
    "render_snippet",
    "script_json",
]


def helper_for(request: object) -> RequestHelper:
    """The helper of ``request`` (Django, Starlette, a helper, or None: the current one)."""
    if request is None:
        return current()
    if isinstance(request, RequestHelper):
        return request
    helper = getattr(request, "posthog", None)  # Django: request.posthog
    if isinstance(helper, RequestHelper):
        return helper
    scope = getattr(request, "scope", None)  # Starlette: the middleware's scope entry
    if isinstance(scope, Mapping):
        helper = scope.get("posthog_web")
        if isinstance(helper, RequestHelper):
            return helper
    return current()


def posthog_snippet(
    request: object = None,
    *,
    script_src: str | None = None,
    api_host: str | None = None,
    capture_pageview: bool | None = None,
    options: Mapping[str, Any] | None = None,
    nonce: str | None = None,
) -> SafeHTML:
    """Render posthog-js's loader and ``posthog.init`` for the visitor of ``request``.

    Args:
        request: a Django ``HttpRequest``, a Starlette ``Request``, a request helper, or
            None for the current request (:func:`posthog_web.current`).
        script_src: where to load posthog-js from; default the tracker's
            ``posthog_js_src``.
        api_host: where posthog-js sends events; default ``posthog_js_api_host``, else
            the client's host.
        capture_pageview: let posthog-js record page views too (default False: the
            server records them, and both would be counted).
        options: more ``posthog.init`` options (JSON values), over the configured ones.
        nonce: a Content-Security-Policy nonce for the ``<script>`` element.

    Returns an empty string when nothing must be rendered: no tracked request, PostHog
    disabled, or a visitor who opted out (posthog-js keeps its own opt-out).
    """
    config = helper_for(request).posthog_js()
    if config is None:
        return SafeHTML("")
    init = dict(config.options)
    if api_host is not None:
        init["api_host"] = api_host
    if capture_pageview is not None:
        init["capture_pageview"] = bool(capture_pageview)
    if options:
        init.update(options)
    config = PostHogJS(config.token, script_src or config.script_src, init, config.reset)
    return render_snippet(config, nonce=nonce)
