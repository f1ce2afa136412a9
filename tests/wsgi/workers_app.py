"""A bare WSGI app, no framework, for the workers test: ``gunicorn tests.wsgi.workers_app:app``.

It logs the browser in and out with the helper (``environ["posthog_web"].login()`` and
``logout()``), as an app without a user model of its own does; the login is remembered
in the signed cookie (``remember_login``), so the pages, which do not log in, stay
attributed on either worker. The users' emails are in a JSON file (``WORKERS_USERS``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from posthog_web import Client
from posthog_web.wsgi import PostHogMiddleware
from tests.gunicorn_workers import PID_HEADER, hold

USERS = Path(os.environ["WORKERS_USERS"])
HTML = [("Content-Type", "text/html; charset=utf-8")]


def _form(environ: dict[str, Any]) -> dict[str, str]:
    size = int(environ.get("CONTENT_LENGTH") or 0)
    fields = parse_qs(environ["wsgi.input"].read(size).decode())
    return {name: values[0] for name, values in fields.items()}


def shop(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    posthog = environ["posthog_web"]
    pid = (PID_HEADER, str(os.getpid()))
    if path.startswith("/hold/"):
        start_response("200 OK", [("Content-Type", "text/plain"), pid])
        return [hold(path.removeprefix("/hold/")).encode()]
    if method == "POST":
        emails = json.loads(USERS.read_text())
        form = _form(environ)
        if path == "/login/":
            posthog.login(form["username"], {"email": emails[form["username"]]})
        elif path == "/profile/":
            emails[posthog.distinct_id] = form["email"]
            USERS.write_text(json.dumps(emails))
            posthog.login(posthog.distinct_id, {"email": form["email"]})
        elif path == "/logout/":
            posthog.logout()
        start_response("303 See Other", [("Location", "/pages/done/"), pid])
        return []
    start_response("200 OK", [*HTML, pid])
    return [f"<!doctype html><title>{path}</title><h1>served by gunicorn</h1>".encode()]


client = Client("phc_test", host=os.environ["POSTHOG_HOST"], flush_interval=0.1)
app = PostHogMiddleware(shop, client=client, secret_key="gunicorn-workers-test")
