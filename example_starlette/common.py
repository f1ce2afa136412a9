"""What the Starlette and FastAPI examples share: the client, the demo user, the pages."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import posthog_web
from posthog_web import US_HOST, Client
from posthog_web.web.snippet import posthog_snippet

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
logger = logging.getLogger("example_starlette")

LOCAL_INBOX = "http://127.0.0.1:8010"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
DEMO_PROFILE = {"email": "demo@example.com", "name": "Demo User", "plan": "pro"}
SESSION_COOKIE = "example_session"
# Signs the example's login cookie and the package's anonymous-id cookie.
SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY", "example-secret-change-me")

# posthog-js for the pages' snippet: `npm install --prefix .cache/npm posthog-js` (or
# scripts/install-browser-deps); the apps serve its dist/ folder when it exists.
POSTHOG_JS_DIST = Path(
    os.environ.get("POSTHOG_JS_DIST")
    or Path(__file__).parents[1] / ".cache" / "npm" / "node_modules" / "posthog-js" / "dist"
)

PRODUCTS = {
    1: {"name": "Notebook", "price": 12.0},
    2: {"name": "Fountain pen", "price": 49.0},
    3: {"name": "Backpack", "price": 89.0},
}


def make_client() -> Client:
    """The PostHog client: PostHog Cloud with POSTHOG_API_KEY, else the local inbox."""
    api_key = os.environ.get("POSTHOG_API_KEY")
    host = os.environ.get("POSTHOG_HOST") or (US_HOST if api_key else LOCAL_INBOX)
    logger.info("posthog-web example: events go to %s", host)
    if not api_key:
        logger.info("no POSTHOG_API_KEY: run the local inbox with `posthog-web inbox`")
    # Delivery options from the environment (tests/reliability/ sets them), e.g.
    # POSTHOG_SPOOL_DIR=/var/lib/shop/posthog-spool.
    options = {
        key.lower(): cast(os.environ[f"POSTHOG_{key}"])
        for key, cast in {
            "SPOOL_DIR": str,
            "MAX_RETRIES": int,
            "TIMEOUT": float,
            "MAX_QUEUE_SIZE": int,
        }.items()
        if os.environ.get(f"POSTHOG_{key}")
    }
    # Flags are evaluated locally with a secret key (the demo's inbox has one), else remotely.
    flags_key = os.environ.get("POSTHOG_FLAGS_SECRET_KEY") or None
    return Client(api_key or "phc_example", host=host, flags_secret_key=flags_key, **options)


def posthog_js_options() -> dict[str, Any] | None:
    """More posthog.init options, as JSON in EXAMPLE_POSTHOG_JS_OPTIONS (tests/browser/ sets it)."""
    raw = os.environ.get("EXAMPLE_POSTHOG_JS_OPTIONS")
    return json.loads(raw) if raw else None


def sign(user: str) -> str:
    """The login cookie value for ``user``."""
    digest = hmac.new(SECRET_KEY.encode(), user.encode(), hashlib.sha256).hexdigest()
    return f"{user}:{digest}"


def unsign(value: str | None) -> str | None:
    """The user of a login cookie value, or None if it is missing or forged."""
    if not value or ":" not in value:
        return None
    user, _, _digest = value.rpartition(":")
    return user if hmac.compare_digest(sign(user), value) else None


def check_login(body: bytes) -> str | None:
    """The user name if the urlencoded login form holds the demo credentials."""
    form = parse_qs(body.decode("utf-8", "replace"))
    username = form.get("username", [""])[0]
    password = form.get("password", [""])[0]
    ok = hmac.compare_digest(username, DEMO_USER) and hmac.compare_digest(password, DEMO_PASSWORD)
    return username if ok else None


def page(title: str, body: str, user: str | None) -> str:
    """One HTML page with the site's navigation."""
    account = (
        f'<a href="/dashboard">{html.escape(user)}</a> '
        '<form method="post" action="/logout" style="display:inline">'
        '<button type="submit">Log out</button></form>'
        if user
        else '<a href="/login">Log in</a>'
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)} · posthog-web example</title>
{posthog_snippet()}</head>
<body>
<nav><a href="/">Home</a> · <a href="/pricing">Pricing</a> · <a href="/products/1">Products</a>
· {account}</nav>
<h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def home_body() -> str:
    items = "".join(
        f'<li><a href="/products/{pid}">{html.escape(str(p["name"]))}</a></li>'
        for pid, p in PRODUCTS.items()
    )
    return f"{banner()}<p>Every page you open here is a server-side $pageview.</p><ul>{items}</ul>"


def banner() -> str:
    """The ``new-banner`` flag's variant for this visitor (docs/flags.md), as a banner.

    Read through the current request's helper, so the page view carries
    ``$feature/new-banner``; nothing when the flag is off or unknown.
    """
    helper = posthog_web.current()
    variant = helper.get_feature_flag("new-banner")
    if not variant:
        return ""
    payload = helper.get_feature_flag_payload("new-banner")
    text = payload.get("text") if isinstance(payload, dict) else None
    return (
        f'<p class="banner" data-variant="{html.escape(str(variant))}">'
        f"{html.escape(str(text or variant))}</p>"
    )


def pricing_body() -> str:
    return "<p>Free: 1 project. Pro: 49 € a month, unlimited projects.</p>"


def product_body(product_id: int, bought: bool) -> str:
    product = PRODUCTS[product_id]
    done = "<p><strong>Thank you for your purchase!</strong></p>" if bought else ""
    return (
        f"{done}<p>{product['price']:.2f} €</p>"
        f'<form method="post" action="/products/{product_id}/buy">'
        '<button type="submit">Buy</button></form>'
    )


def login_body(failed: bool) -> str:
    error = "<p>Wrong user name or password.</p>" if failed else ""
    return (
        f'{error}<form method="post" action="/login">'
        '<label>User <input name="username" value="demo"></label> '
        '<label>Password <input name="password" type="password"></label> '
        '<button type="submit">Log in</button></form>'
        f"<p>Demo account: {DEMO_USER} / {DEMO_PASSWORD}</p>"
    )


def dashboard_body(user: str) -> str:
    return f"<p>Welcome back, {html.escape(user)}. Your page views are now yours.</p>"
