"""Django REST framework: ``$exception`` for the 5xx ``APIException`` DRF answers itself.

DRF turns an ``APIException`` into a response inside the view, so Django's
``process_exception`` (and :class:`~posthog_web.django.PostHogMiddleware`'s autocapture)
never sees it. Set the handler::

    REST_FRAMEWORK = {"EXCEPTION_HANDLER": "posthog_web.django.drf.exception_handler"}

or wrap your own with :func:`wrap_exception_handler`. Other exceptions DRF re-raises, and
the middleware captures them as usual. The middleware must be installed (it knows the
visitor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework.views import exception_handler as drf_exception_handler

from posthog_web.web.errors import SOURCE_DRF
from posthog_web.web.guard import guarded
from posthog_web.web.helper import RequestHelper

__all__ = ["exception_handler", "wrap_exception_handler"]

Handler = Callable[[Exception, Mapping[str, Any]], Any]


def wrap_exception_handler(handler: Handler) -> Handler:
    """``handler`` (a DRF exception handler), then ``$exception`` for a 5xx it answered.

    The response ``handler`` returns is returned unchanged.
    """
    if not callable(handler):
        raise TypeError(f"handler must be callable, not {type(handler).__name__}")

    def posthog_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Any:
        response = handler(exc, context)
        with guarded("exception capture"):
            status = getattr(response, "status_code", None)
            if isinstance(status, int) and status >= 500:
                request = context.get("request")
                django_request = getattr(request, "_request", request)
                helper = getattr(django_request, "posthog", None)
                if isinstance(helper, RequestHelper):
                    helper._autocapture(exc, SOURCE_DRF, status=status, handled=True)
        return response

    return posthog_exception_handler


#: DRF's own handler, then ``$exception`` for the 5xx answers it gave.
exception_handler = wrap_exception_handler(drf_exception_handler)
