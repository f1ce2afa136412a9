"""A one-module Django site for the real-gunicorn error test.

``gunicorn tests.errors.server_django:application``; events go to ``POSTHOG_HOST``.
"""

from __future__ import annotations

import os

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path


class CheckoutError(RuntimeError):
    """What the failing view raises."""


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><title>home</title><h1>served by gunicorn</h1>")


def fail(request: HttpRequest, order: int) -> HttpResponse:
    raise CheckoutError(f"order {order} failed")


urlpatterns = [path("", home), path("orders/<int:order>/", fail)]

settings.configure(
    DEBUG=False,
    SECRET_KEY="gunicorn-errors-test",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["posthog_web.django"],
    MIDDLEWARE=["posthog_web.django.PostHogMiddleware"],
    LOGGING_CONFIG=None,
    POSTHOG_WEB={
        "API_KEY": "phc_test",
        "HOST": os.environ["POSTHOG_HOST"],
        "FLUSH_INTERVAL": 0.1,
        "PERSON_PROFILES": "always",
    },
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings)

application = get_wsgi_application()
