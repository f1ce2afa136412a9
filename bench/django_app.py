"""The Django app of the in-process benchmark (WSGI, called directly) and its variants.

It is also its own ``ROOT_URLCONF``. Every variant runs behind Django's session and
authentication middleware, where posthog-web's middleware belongs; requests carry
no session cookie, so no variant touches the database.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test.utils import override_settings
from django.urls import path

from bench import scenarios
from bench.asgi_app import ITEMS, PAGE
from posthog_web import Client


def product(request: HttpRequest, product_id: int) -> HttpResponse:
    return HttpResponse(PAGE)


def products_api(request: HttpRequest) -> HttpResponse:
    return JsonResponse(ITEMS)


def internal_status(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>ok</p>")


urlpatterns = [
    path("products/<int:product_id>", product, name="product"),
    path("api/products", products_api, name="products_api"),
    path("internal/status", internal_status, name="internal_status"),
]

BASE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
VARIANT_MIDDLEWARE = {
    "bare": None,
    "lower_bound": "bench.lower_bound.LowerBoundDjangoMiddleware",
    "posthog_web": "posthog_web.django.PostHogMiddleware",
    "ph_capture": "bench.peers.PosthogCaptureDjangoMiddleware",
    "ph_context": "posthog.integrations.django.PosthogContextMiddleware",
}
PEER_VARIANTS = frozenset({"ph_capture", "ph_context"})
VARIANTS = {
    "bare": "bare app",
    "lower_bound": "lower bound (dict + deque)",
    "posthog_web": "posthog-web",
    "ph_capture": "posthog-python capture middleware",
    "ph_context": "posthog-python PosthogContextMiddleware (context only)",
}

#: Settings for a process of its own; under pytest-django they override the test settings.
STANDALONE = {
    "DEBUG": False,
    "SECRET_KEY": scenarios.SECRET,
    "INSTALLED_APPS": [
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "posthog_web.django",
    ],
    "MIDDLEWARE": BASE_MIDDLEWARE,
    "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    "DEFAULT_AUTO_FIELD": "django.db.models.AutoField",
    "USE_TZ": True,
    "STATIC_URL": "/static/",
    "LOGGING_CONFIG": None,
}


def _overrides(pw_client: Client, ph_client: Any | None) -> dict[str, Any]:
    return {
        "ROOT_URLCONF": "bench.django_app",
        "ALLOWED_HOSTS": [scenarios.HOST],
        "DEBUG": False,
        "POSTHOG_WEB": {"CLIENT": pw_client, "EXCLUDE_PATHS": [r"^/internal/"]},
        "POSTHOG_MW_CLIENT": ph_client,
    }


@contextmanager
def django_settings(pw_client: Client, ph_client: Any | None) -> Iterator[None]:
    """Configure Django for the benchmark (or override the settings already configured)."""
    if not settings.configured:
        settings.configure(**STANDALONE)
        django.setup()
    with override_settings(**_overrides(pw_client, ph_client)):
        yield


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


class DjangoHarness:
    """Runs ``n`` synthetic requests through one variant's WSGI handler.

    Build and use it inside :func:`django_settings`.
    """

    framework = "Django"

    def __init__(self, ph_client: Any | None, only: set[str] | None = None) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handlers: dict[str, WSGIHandler] = {}
        for key, dotted in VARIANT_MIDDLEWARE.items():
            if (only is not None and key not in only) or (
                key in PEER_VARIANTS and ph_client is None
            ):
                continue
            if key == "ph_capture":
                from bench import peers

                peers.CLIENT = ph_client
            stack = BASE_MIDDLEWARE + ([dotted] if dotted else [])
            with override_settings(MIDDLEWARE=stack):
                self.handlers[key] = WSGIHandler()
        self._status = ""

    def variants(self) -> list[str]:
        return list(self.handlers)

    def prepare(self, request: scenarios.Request) -> dict[str, Any]:
        return scenarios.wsgi_environ(request)

    def run(self, variant: str, template: dict[str, Any], n: int) -> int:
        """Serve ``n`` requests; return the last status."""
        handler = self.handlers[variant]
        status = 0
        for _ in range(n):
            environ = template.copy()
            environ["wsgi.input"] = io.BytesIO(b"")
            response = handler(environ, _start_response)
            for _chunk in response:
                pass
            response.close()
            status = response.status_code
        return status

    def close(self) -> None:
        pass
