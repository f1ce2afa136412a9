"""The Flask extension: page views, identity, ``g.posthog`` and the Jinja snippet.

::

    from posthog_web.flask import PostHog

    app.config["POSTHOG_WEB"] = {"API_KEY": "phc_..."}
    posthog = PostHog(app)  # or PostHog() and posthog.init_app(app) in a factory

It wraps ``app.wsgi_app`` in :class:`posthog_web.wsgi.PostHogMiddleware`, configured from
``app.config["POSTHOG_WEB"]`` (the keys of Django's ``POSTHOG_WEB``, checked the same
way), and takes the user from Flask-Login's ``current_user`` when the app uses
Flask-Login, else from the function given to :meth:`PostHog.user_loader`. Flask's
``got_request_exception`` signal hands an unhandled exception to the request's error
tracking, sent with the status Flask answers (docs/errors.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import flask
from flask import Flask, g, got_request_exception, has_request_context, request

from posthog_web.web.errors import SOURCE_FLASK
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, RequestHelper, current
from posthog_web.web.settings import (
    DEFAULTS,
    TRACKER_KEYS,
    import_dotted,
    problems,
    settings_client,
)
from posthog_web.web.snippet import posthog_snippet
from posthog_web.web.templates import FLAG_GLOBALS
from posthog_web.wsgi import BODY_KEY, HELPER_KEY, ROUTE_KEY, UNKNOWN, PostHogMiddleware

try:  # Flask-Login is optional
    import flask_login  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - installed with the dev tools
    flask_login = None

__all__ = ["PostHog", "default_distinct_id"]

logger = logging.getLogger(__name__)

_EXTENSION = "posthog_web"
_GUARD_EXCEPTION = guarded("exception capture")


def default_distinct_id(user: Any) -> str | None:
    """Flask-Login's ``user.get_id()``, else ``user.id``."""
    get_id = getattr(user, "get_id", None)
    value = get_id() if callable(get_id) else getattr(user, "id", None)
    return None if value is None else str(value)


class PostHog:
    """The Flask extension (``PostHog(app)``, or ``init_app(app)`` in an app factory).

    In a request: ``g.posthog`` and ``request.posthog`` are the request's
    :class:`~posthog_web.web.helper.RequestHelper` (as is :func:`posthog_web.current`);
    templates get ``{{ posthog_snippet() }}``.
    """

    def __init__(self, app: Flask | None = None) -> None:
        self._user_loader: Callable[[], Any] | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Configure ``app`` from ``app.config["POSTHOG_WEB"]`` (a ValueError names a bad key)."""
        raw = app.config.get("POSTHOG_WEB") or {}
        found = problems(raw)
        if found:
            raise ValueError("; ".join(message for _, message in found))
        conf = {**DEFAULTS, **raw}
        users = _Users(
            self,
            _callable(conf["DISTINCT_ID"], "DISTINCT_ID") or default_distinct_id,
            _callable(conf["PERSON_PROPERTIES"], "PERSON_PROPERTIES"),
        )
        static = app.static_url_path if app.has_static_folder else None
        prefixes = conf["STATIC_PREFIXES"]
        if prefixes is None:
            prefixes = [f"{static}/"] if static else []
        options: dict[str, Any] = {key.lower(): conf[key] for key in TRACKER_KEYS}
        script = conf["POSTHOG_JS_SRC"]
        if script is None and static:
            script = f"{static}/posthog-js/array.full.js"
        if script is not None:
            options["posthog_js_src"] = script
        client = settings_client(conf, debug=app.debug)
        app.wsgi_app = PostHogMiddleware(  # type: ignore[method-assign]
            app.wsgi_app,
            client=client,
            secret_key=conf["COOKIE_SECRET"] or _text(app.secret_key),
            distinct_id=users.user_id,
            person_properties=users.user_properties,
            static_prefixes=tuple(prefixes),
            record_pageview=_callable(conf["RECORD_PAGEVIEW"], "RECORD_PAGEVIEW"),
            **options,
        )
        app.extensions[_EXTENSION] = self
        app.before_request(_expose_helper)
        app.after_request(_describe_response)
        app.jinja_env.globals["posthog_snippet"] = posthog_snippet
        # posthog_feature_flag(request, key) & co. (docs/flags.md); request: Flask's proxy.
        app.jinja_env.globals.update(FLAG_GLOBALS)
        got_request_exception.connect(_on_exception, app)
        if flask_login is not None:
            # Weak references: the middleware keeps `users` as long as the app lives.
            flask_login.user_logged_in.connect(users.on_login, app)
            flask_login.user_logged_out.connect(users.on_logout, app)

    def user_loader(self, loader: Callable[[], Any]) -> Callable[[], Any]:
        """Register ``loader() -> user | None``, the logged-in user without Flask-Login.

        Used as a decorator; ``DISTINCT_ID`` and ``PERSON_PROPERTIES`` get its user.
        """
        self._user_loader = loader
        return loader

    @property
    def helper(self) -> RequestHelper:
        """The current request's helper (a no-op one outside a tracked request)."""
        return current()

    def login(self, user_id: str, properties: Mapping[str, Any] | None = None) -> None:
        """Link this visitor to ``user_id`` (alias with the guards, then ``$identify``)."""
        current().login(user_id, None if properties is None else dict(properties))

    def logout(self) -> None:
        """Forget the user and rotate the anonymous id (posthog-js ``reset()``)."""
        current().logout()


class _Users:
    """One app's reading of its user: Flask-Login's or the loader's, and its signals."""

    __slots__ = ("__weakref__", "distinct_id", "extension", "person_properties")

    def __init__(
        self,
        extension: PostHog,
        distinct_id: Callable[[Any], str | None],
        person_properties: Callable[[Any], Mapping[str, Any] | None] | None,
    ) -> None:
        self.extension = extension
        self.distinct_id = distinct_id
        self.person_properties = person_properties

    def user(self) -> Any:
        if not has_request_context():
            return UNKNOWN  # the WSGI layer, before Flask pushed the request
        if flask_login is not None and hasattr(flask.current_app, "login_manager"):
            user = flask_login.current_user
            return user if user is not None and user.is_authenticated else None
        loader = self.extension._user_loader
        return UNKNOWN if loader is None else loader()

    def user_id(self, environ: Mapping[str, Any]) -> Any:
        user = self.user()
        if user is None or user is UNKNOWN:
            return user
        return self.distinct_id(user)

    def user_properties(self, environ: Mapping[str, Any]) -> Mapping[str, Any] | None:
        if self.person_properties is None:
            return None
        user = self.user()
        return None if user is None or user is UNKNOWN else self.person_properties(user)

    def on_login(self, sender: Any, user: Any = None, **kwargs: Any) -> None:
        helper = _request_helper()
        if helper is None or user is None:
            return
        distinct_id = self.distinct_id(user)
        if distinct_id is None:
            return
        props = self.person_properties(user) if self.person_properties else None
        helper.login(distinct_id, None if props is None else dict(props))

    def on_logout(self, sender: Any, user: Any = None, **kwargs: Any) -> None:
        helper = _request_helper()
        if helper is not None:
            helper.logout()


def _request_helper() -> RequestHelper | None:
    # A login outside a tracked request (a CLI command, a test client without us): no helper.
    if not has_request_context():
        return None
    helper = request.environ.get(HELPER_KEY)
    if not isinstance(helper, RequestHelper) or isinstance(helper, NoopHelper):
        return None
    return helper


def _expose_helper() -> None:
    helper = request.environ.get(HELPER_KEY)
    if not isinstance(helper, RequestHelper):
        helper = current()
    g.posthog = helper
    request.posthog = helper  # type: ignore[attr-defined]


def _describe_response(response: flask.Response) -> flask.Response:
    # What the WSGI layer cannot see: the whole body (Flask hands it an iterator) and
    # the matched route. Only when tracked, and only a body Flask already holds.
    environ = request.environ
    if _request_helper() is not None:
        held = not (response.is_streamed or response.direct_passthrough)
        environ[BODY_KEY] = response.get_data() if held else None
        _note_route()
    return response


def _note_route() -> None:
    rule = request.url_rule
    view = flask.current_app.view_functions.get(request.endpoint or "")
    name = f"{view.__module__}.{view.__qualname__}" if view is not None else None
    request.environ[ROUTE_KEY] = (rule.rule if rule else None, name, request.endpoint)


def _on_exception(sender: Flask, exception: BaseException | None = None, **extra: Any) -> None:
    # Flask answers it with its 500 (or re-raises it under PROPAGATE_EXCEPTIONS, where
    # the WSGI layer sends it); noted now, sent once the status is known.
    with _GUARD_EXCEPTION:
        helper = _request_helper()
        if helper is None or exception is None:
            return
        _note_route()  # after_request does not run when Flask re-raises
        helper._autocapture(exception, SOURCE_FLASK)


def _text(secret: Any) -> str | None:
    return secret.decode("latin-1") if isinstance(secret, bytes) else secret


def _callable(value: object, key: str) -> Callable[..., Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_dotted(value)
        except ImportError as exc:
            raise ValueError(f"POSTHOG_WEB[{key!r}]: cannot import {value!r}: {exc}") from None
    if not callable(value):
        raise ValueError(f"POSTHOG_WEB[{key!r}] must be callable, got {value!r:.60}")
    return value
