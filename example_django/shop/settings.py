"""Settings of the example shop. Without POSTHOG_API_KEY, events go to the local inbox."""

from __future__ import annotations

import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY", "example-shop-not-a-secret")
DEBUG = os.environ.get("EXAMPLE_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "posthog_web.django",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "posthog_web.django.PostHogMiddleware",
]

ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
ASGI_APPLICATION = "shop.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "/static/"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "home"

# API_KEY and HOST come from POSTHOG_API_KEY / POSTHOG_HOST; with neither (and DEBUG on)
# events go to the local inbox at http://127.0.0.1:8010 (`posthog-web inbox`).
POSTHOG_WEB: dict[str, object] = {
    "EXCLUDE_PATHS": [r"^/internal/"],
}
# Delivery options from the environment (tests/reliability/ sets them), e.g.
# POSTHOG_SPOOL_DIR=/var/lib/shop/posthog-spool.
for _key, _cast in {
    "SPOOL_DIR": str,
    "MAX_RETRIES": int,
    "TIMEOUT": float,
    "MAX_QUEUE_SIZE": int,
}.items():
    if os.environ.get(f"POSTHOG_{_key}"):
        POSTHOG_WEB[_key] = _cast(os.environ[f"POSTHOG_{_key}"])

# posthog-js for {% posthog_snippet %}: `npm install --prefix .cache/npm posthog-js` (or
# scripts/install-browser-deps); shop/urls.py serves its dist/ folder when it exists.
POSTHOG_JS_DIST = Path(
    os.environ.get("POSTHOG_JS_DIST")
    or BASE_DIR.parent / ".cache" / "npm" / "node_modules" / "posthog-js" / "dist"
)
# More posthog.init options as JSON (tests/browser/ sets it).
if os.environ.get("EXAMPLE_POSTHOG_JS_OPTIONS"):
    POSTHOG_WEB["POSTHOG_JS_OPTIONS"] = json.loads(os.environ["EXAMPLE_POSTHOG_JS_OPTIONS"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"posthog_web": {"handlers": ["console"], "level": "INFO"}},
}
