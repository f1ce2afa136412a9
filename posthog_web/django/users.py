"""Reading Django's user without side effects: no session access, no lazy user evaluated.

(``request.session.accessed`` is restored, so responses do not all get ``Vary: Cookie``;
an anonymous request without a session cookie never evaluates ``django.contrib.auth``'s
lazy user.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject, empty

__all__ = ["user_async", "user_sync"]


@contextmanager
def _session_untouched(request: HttpRequest) -> Iterator[None]:
    """Undo the ``accessed``/``modified`` marks that reading the user leaves on the session.

    Otherwise every anonymous response would get ``Vary: Cookie`` (and a session row
    when modified), although the view never used the session.
    """
    session = getattr(request, "session", None)
    if session is None:
        yield
        return
    accessed, modified, key = session.accessed, session.modified, session.session_key
    yield
    # A flushed session (a failed auth-hash check) is a real change: keep its marks.
    if session.session_key == key:
        session.accessed, session.modified = accessed, modified


def _forget_anonymous(request: HttpRequest, user: Any) -> None:
    # The view reads request.user again and so marks the session itself, as it would
    # without us: responses that depend on the user keep their Vary: Cookie.
    if isinstance(user, SimpleLazyObject):
        user._wrapped = empty
    request.__dict__.pop("_cached_user", None)
    request.__dict__.pop("_acached_user", None)


# The module of the lazy user that django.contrib.auth's AuthenticationMiddleware sets.
_AUTH_MIDDLEWARE_MODULE = "django.contrib.auth.middleware"


def _sessionless_auth_user(request: HttpRequest, user: SimpleLazyObject[Any]) -> bool:
    """True for Django's own lazy user on a request that brought no session cookie.

    That user comes from the session alone, so it is anonymous: not evaluating it saves
    the authentication lookup on every first visit. A lazy user of any other origin
    (a token or header middleware) is evaluated as usual.
    """
    setup = user.__dict__.get("_setupfunc")
    if getattr(setup, "__module__", None) != _AUTH_MIDDLEWARE_MODULE:
        return False
    session = request.__dict__.get("session")
    return session is not None and getattr(session, "session_key", "") is None


def user_sync(request: HttpRequest) -> Any:
    user = request.__dict__.get("user")
    if user is None:
        return None
    if isinstance(user, SimpleLazyObject) and user._wrapped is empty:
        if _sessionless_auth_user(request, user):
            return None
        with _session_untouched(request):
            authenticated = user.is_authenticated
        if not authenticated:
            _forget_anonymous(request, user)
            return None
    return user if user.is_authenticated else None


async def user_async(request: HttpRequest) -> Any:
    auser = request.__dict__.get("auser")
    user = request.__dict__.get("user")
    if auser is None:
        # Never evaluate a lazy user here: that would run the ORM in the event loop.
        if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
            return None
        return user if user.is_authenticated else None
    cached = "_acached_user" in request.__dict__
    with _session_untouched(request):
        resolved = await auser()
    if not resolved.is_authenticated:
        if not cached:
            request.__dict__.pop("_acached_user", None)
        return None
    return resolved
