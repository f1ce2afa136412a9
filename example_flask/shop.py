"""The Flask example: ``gunicorn example_flask.shop:app`` or ``flask --app example_flask.shop run``.

A small shop with the pages of the other examples. Identity comes from Flask-Login:
``login_user``/``logout_user`` send Flask-Login's signals, and the extension links the
anonymous visitor to the user (``$create_alias``, ``$identify``) and rotates the
anonymous id at log out. Views use ``g.posthog``; templates ``{{ posthog_snippet() }}``.
"""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path
from typing import Any

import flask_login  # type: ignore[import-untyped]  # no types shipped
from flask import Flask, abort, g, jsonify, redirect, render_template, request, send_from_directory
from flask.typing import ResponseReturnValue

from posthog_web.flask import PostHog

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

LOCAL_INBOX = "http://127.0.0.1:8010"
DEMO_PASSWORD = "demo-password"
# posthog-js for the pages' snippet (scripts/install-browser-deps puts it there).
POSTHOG_JS_DIST = Path(
    os.environ.get("POSTHOG_JS_DIST")
    or Path(__file__).parents[1] / ".cache" / "npm" / "node_modules" / "posthog-js" / "dist"
)
PRODUCTS = {
    1: {"name": "Notebook", "price": 12.0},
    2: {"name": "Fountain pen", "price": 49.0},
    3: {"name": "Backpack", "price": 89.0},
}


class User(flask_login.UserMixin):
    """The demo user; ``get_id()`` (Flask-Login) is its PostHog distinct id."""

    def __init__(self, username: str) -> None:
        self.id = username
        self.email = f"{username}@example.com"
        self.name = "Demo User"

    def get_username(self) -> str:
        return str(self.id)


USERS = {"demo": User("demo")}


def posthog_settings() -> dict[str, Any]:
    """``POSTHOG_WEB``: PostHog Cloud with POSTHOG_API_KEY, else the local inbox."""
    api_key = os.environ.get("POSTHOG_API_KEY")
    settings: dict[str, Any] = {
        "API_KEY": api_key,
        "HOST": os.environ.get("POSTHOG_HOST") or (None if api_key else LOCAL_INBOX),
        "POSTHOG_JS_SRC": "/static/posthog-js/array.full.js",
        "STATIC_PREFIXES": ["/static/"],
    }
    # Delivery options from the environment, e.g. POSTHOG_SPOOL_DIR=/var/lib/shop/spool.
    for key, cast in {"SPOOL_DIR": str, "MAX_RETRIES": int, "TIMEOUT": float}.items():
        if os.environ.get(f"POSTHOG_{key}"):
            settings[key] = cast(os.environ[f"POSTHOG_{key}"])
    return settings


def create_app() -> Flask:
    """The app factory: Flask-Login, then the PostHog extension, then the views."""
    app = Flask(__name__, static_folder=None)
    app.secret_key = os.environ.get("EXAMPLE_SECRET_KEY", "example-secret-change-me")
    app.config["POSTHOG_WEB"] = posthog_settings()
    login_manager = flask_login.LoginManager(app)
    login_manager.login_view = "login"
    login_manager.user_loader(USERS.get)
    PostHog(app)

    @app.get("/")
    def home() -> ResponseReturnValue:
        return render_template("home.html", title="Home", products=PRODUCTS)

    @app.get("/pricing")
    def pricing() -> ResponseReturnValue:
        return render_template("pricing.html", title="Pricing")

    @app.get("/products/<int:product_id>")
    def product(product_id: int) -> ResponseReturnValue:
        item = PRODUCTS.get(product_id)
        if item is None:
            abort(404)
        bought = "bought" in request.args
        return render_template(
            "product.html", title=item["name"], id=product_id, product=item, bought=bought
        )

    @app.post("/products/<int:product_id>/buy")
    def buy(product_id: int) -> ResponseReturnValue:
        item = PRODUCTS.get(product_id)
        if item is None:
            return redirect("/", 303)
        g.posthog.capture(
            "purchase_completed",
            {"product_id": product_id, "product": item["name"], "price": item["price"]},
        )
        return redirect(f"/products/{product_id}?bought=1", 303)

    @app.get("/api/products")
    def api_products() -> ResponseReturnValue:
        # What a mobile app calls when it shows its product list: a $screen.
        g.posthog.screen("Products", {"count": len(PRODUCTS)})
        return jsonify([{"id": pid, **item} for pid, item in PRODUCTS.items()])

    @app.route("/login", methods=["GET", "POST"])
    def login() -> ResponseReturnValue:
        if request.method == "GET":
            return render_template("login.html", title="Log in", failed=False)
        user = USERS.get(request.form.get("username", ""))
        password = request.form.get("password", "")
        if user is None or not hmac.compare_digest(password, DEMO_PASSWORD):
            return render_template("login.html", title="Log in", failed=True), 401
        flask_login.login_user(user)  # the signal links the visitor to the user
        return redirect("/dashboard", 303)

    @app.post("/logout")
    def logout() -> ResponseReturnValue:
        flask_login.logout_user()  # the signal rotates the anonymous id
        return redirect("/", 303)

    @app.get("/dashboard")
    @flask_login.login_required
    def dashboard() -> ResponseReturnValue:
        return render_template("dashboard.html", title="Dashboard")

    if POSTHOG_JS_DIST.is_dir():

        @app.get("/static/posthog-js/<path:filename>")
        def posthog_js(filename: str) -> ResponseReturnValue:
            return send_from_directory(POSTHOG_JS_DIST, filename)

    return app


app = create_app()
