"""The Django app: registers the system checks and the login/logout receivers."""

from __future__ import annotations

from django.apps import AppConfig


class PostHogWebConfig(AppConfig):
    """``posthog_web.django`` in ``INSTALLED_APPS``."""

    name = "posthog_web.django"
    label = "posthog_web"
    verbose_name = "PostHog"

    def ready(self) -> None:
        # Imported here: both modules touch django.contrib.auth, which needs the app registry.
        from posthog_web.django import checks, receivers

        checks.register()
        receivers.connect()
