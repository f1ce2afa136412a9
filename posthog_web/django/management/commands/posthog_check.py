"""``manage.py posthog_check``: send one test event in sync mode and say what PostHog answered."""

from __future__ import annotations

import platform
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from posthog_web.client import Client
from posthog_web.delivery import DeliveryError
from posthog_web.django import conf
from posthog_web.web.fallback import keyless_host

_HINTS = {
    400: "PostHog refused the payload; this is a bug in posthog-web, please report it.",
    401: "PostHog wants a project API key: set POSTHOG_WEB['API_KEY'] (phc_...).",
    403: "PostHog refused the API key: use the project API key (phc_...) from your "
    "project settings, not a personal key (phx_...), and check HOST (US or EU).",
    404: "Nothing answers /batch/ at HOST: check POSTHOG_WEB['HOST'] "
    "(https://us.i.posthog.com or https://eu.i.posthog.com, or your proxy).",
    413: "The test event was too large; this is a bug in posthog-web, please report it.",
    429: "PostHog is rate limiting this project; try again in a minute.",
}


class Command(BaseCommand):
    help = "Send one test event to PostHog in sync mode and report the answer."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--distinct-id",
            default="posthog-web-check",
            help="the distinct id of the test event (default: posthog-web-check)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = {**conf.DEFAULTS, **conf.user_settings()}
        given = raw["CLIENT"]
        if given is not None:
            try:
                config = conf.build()
            except ImproperlyConfigured as exc:
                raise CommandError(str(exc)) from None
            assert config.tracker is not None
            client = config.tracker.client
            api_key: str | None = "(from POSTHOG_WEB['CLIENT'])"
            owns = False
        else:
            api_key, host = conf.api_key_and_host(raw)
            if api_key is None and keyless_host(host, local_inbox=False) is None:
                raise CommandError(
                    "No API key: set POSTHOG_WEB['API_KEY'] (or the POSTHOG_API_KEY "
                    "environment variable) to your project API key (phc_...)."
                )
            try:
                client = Client(
                    api_key or "phc_local_inbox",
                    host=host,
                    sync_mode=True,
                    timeout=float(raw["TIMEOUT"]),
                    max_retries=1,
                )
            except (TypeError, ValueError) as exc:
                raise CommandError(f"POSTHOG_WEB: {exc}") from None
            owns = True
        self.stdout.write(f"PostHog host: {client.host}")
        try:
            status = self._send(client, options["distinct_id"])
        finally:
            if owns:
                client.shutdown(timeout=2.0)
        self.stdout.write(f"PostHog answered: HTTP {status}")
        if status == 200:
            self.stdout.write(self.style.SUCCESS("OK: the test event was accepted."))
            return
        hint = _HINTS.get(status, "PostHog had a problem; try again, or check HOST.")
        raise CommandError(f"HTTP {status}: {hint}")

    def _send(self, client: Client, distinct_id: str) -> int:
        properties = {
            "$process_person_profile": False,
            "python_version": platform.python_version(),
        }
        try:
            if client.sync_mode:
                status = client.capture(
                    "posthog_web_check", distinct_id=distinct_id, properties=properties
                )
            else:
                client.capture("posthog_web_check", distinct_id=distinct_id, properties=properties)
                flushed = client.flush(timeout=10.0)
                status = 200 if flushed else None
        except DeliveryError as exc:
            raise CommandError(
                f"Could not reach {client.host}: {exc}. Check POSTHOG_WEB['HOST'] and the "
                "network (proxies, firewalls)."
            ) from None
        if status is None:
            raise CommandError(f"The test event could not be delivered to {client.host}.")
        return status
