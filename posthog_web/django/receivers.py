"""Login and logout: alias the anonymous visitor into the user, rotate the id on logout.

And ``got_request_exception``: an exception Django answers with its 500 that did not come
from a view (an inner middleware's) reaches no ``process_exception``; it is sent from here.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import got_request_exception

from posthog_web.events import validate_distinct_id
from posthog_web.web.errors import SOURCE_DJANGO
from posthog_web.web.guard import guarded
from posthog_web.web.helper import NoopHelper, RequestHelper

__all__ = ["connect", "on_login", "on_logout", "on_request_exception"]

logger = logging.getLogger(__name__)


def _helper(request: Any) -> RequestHelper | None:
    # Logins outside PostHogMiddleware (Client.force_login, a shell) have no helper.
    helper = getattr(request, "posthog", None)
    if not isinstance(helper, RequestHelper) or isinstance(helper, NoopHelper):
        return None
    return helper


def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: alias the visitor's anonymous id into the user, then identify."""
    helper = _helper(request)
    if helper is None:
        return
    from posthog_web.django.conf import get_config

    with guarded("login"):
        config = get_config()
        distinct_id = config.distinct_id(user)
        try:
            validate_distinct_id(distinct_id)
        except (TypeError, ValueError) as exc:
            logger.warning("posthog-web: not linking the login to PostHog: %s", exc)
            return
        props = config.person_properties(user) if config.person_properties else None
        helper.login(distinct_id, None if props is None else dict(props))


def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_out``: forget the user and rotate the anonymous id."""
    helper = _helper(request)
    if helper is not None:
        helper.logout()


def on_request_exception(sender: Any, request: Any = None, **kwargs: Any) -> None:
    """``got_request_exception``: Django answers the exception being handled with a 500.

    A view's exception was noted by ``process_exception`` already; each is sent once.
    """
    helper = _helper(request)
    exc = sys.exc_info()[1]
    if helper is not None and exc is not None:
        helper._autocapture(exc, SOURCE_DJANGO, status=500)


def connect() -> None:
    """Connect the receivers (idempotent)."""
    user_logged_in.connect(on_login, dispatch_uid="posthog_web.login")
    user_logged_out.connect(on_logout, dispatch_uid="posthog_web.logout")
    got_request_exception.connect(on_request_exception, dispatch_uid="posthog_web.exception")
