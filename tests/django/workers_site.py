"""A one-module Django site for the several-workers test: ``gunicorn tests.django.workers_site``.

Django's own auth: users and sessions in a SQLite file every worker shares
(``WORKERS_DB``), ``LoginView``/``LogoutView`` with CSRF. ``python -m
tests.django.workers_site`` creates the tables and the users ada and grace.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path

from tests.gunicorn_workers import PID_HEADER, hold

PASSWORD = "workers-password"  # tests/django/test_workers.py logs in with it
HTML = "<!doctype html><title>{}</title><h1>served by gunicorn</h1>"


def page(request: HttpRequest, name: str = "home") -> HttpResponse:
    return HttpResponse(HTML.format(name))


def profile(request: HttpRequest) -> HttpResponse:
    request.user.email = request.POST["email"]  # type: ignore[union-attr]
    request.user.save()  # type: ignore[union-attr]
    return HttpResponseRedirect("/pages/saved/")


def held(request: HttpRequest, token: str) -> HttpResponse:
    return HttpResponse(hold(token), content_type="text/plain")


def worker_pid(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response[PID_HEADER] = str(os.getpid())
        return response

    return middleware


settings.configure(
    DEBUG=False,
    SECRET_KEY="gunicorn-workers-test",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "posthog_web.django",
    ],
    MIDDLEWARE=[
        f"{__name__}.worker_pid",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "posthog_web.django.PostHogMiddleware",
    ],
    DATABASES={
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["WORKERS_DB"]}
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "DIRS": [Path(__file__).parent / "templates"],
        }
    ],
    USE_TZ=True,
    LOGGING_CONFIG=None,
    POSTHOG_WEB={"API_KEY": "phc_test", "HOST": os.environ["POSTHOG_HOST"], "FLUSH_INTERVAL": 0.1},
)
django.setup()

from django.contrib.auth import views as auth_views  # noqa: E402  (after settings)
from django.core.wsgi import get_wsgi_application  # noqa: E402

urlpatterns = [
    path("", page),
    path("pages/<slug:name>/", page),
    path("hold/<str:token>", held),
    path("login/", auth_views.LoginView.as_view(template_name="login.html")),
    path("logout/", auth_views.LogoutView.as_view(next_page="/")),
    path("profile/", profile),
]

application = get_wsgi_application()

if __name__ == "__main__":
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for name in ("ada", "grace"):
        User.objects.create_user(name, f"{name}@example.com", PASSWORD)
