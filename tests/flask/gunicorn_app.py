"""A Flask app for the real-gunicorn tests: ``gunicorn tests.flask.gunicorn_app:app``.

Its client never sends on its own (no timer, no batch size reached): an event that
reaches the inbox was sent by the exit flush of the worker that queued it.
"""

from __future__ import annotations

import os

from flask import Flask, g

from posthog_web.flask import PostHog

app = Flask(__name__)
app.secret_key = "gunicorn-test"
app.config["POSTHOG_WEB"] = {
    "API_KEY": "phc_test",
    "HOST": os.environ["POSTHOG_HOST"],
    "ALLOW_INSECURE_HTTP": True,
    "FLUSH_INTERVAL": 3600,
    "FLUSH_AT": 1000,
}
PostHog(app)


@app.get("/")
def home() -> str:
    g.posthog.capture("home_served", {"pid": os.getpid()})
    return "<!doctype html><title>served by gunicorn</title><h1>hi</h1>"


class CheckoutError(RuntimeError):
    """What /checkout raises: Flask answers 500, posthog-web sends its $exception."""


@app.get("/checkout")
def checkout() -> str:
    raise CheckoutError("the payment provider is down")
