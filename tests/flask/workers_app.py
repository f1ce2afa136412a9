"""Flask and Flask-Login for the several-workers test: ``gunicorn tests.flask.workers_app:app``.

Logging in and out as docs/flask.md says: ``login_user``/``logout_user`` in the views,
Flask-Login's signals do the rest. Flask's session is a signed cookie, so the workers
share nothing but the browser's cookies.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import flask_login
from flask import Flask, Response, redirect, request
from flask.typing import ResponseReturnValue

from posthog_web.flask import PostHog
from tests.gunicorn_workers import PID_HEADER, hold


class User(flask_login.UserMixin):
    def __init__(self, username: str, email: str) -> None:
        self.id = username
        self.email = email


# The users' emails, in a JSON file both workers read: {"ada": "ada@example.com", ...}.
USERS = Path(os.environ["WORKERS_USERS"])


def load_user(username: str) -> User | None:
    email = json.loads(USERS.read_text()).get(username)
    return None if email is None else User(username, email)


app = Flask(__name__)
app.secret_key = "gunicorn-workers-test"
flask_login.LoginManager(app).user_loader(load_user)
# A loopback HOST may be plain HTTP; the client sends every 0.1 s.
app.config["POSTHOG_WEB"] = {"API_KEY": "phc_test", "HOST": os.environ["POSTHOG_HOST"]}
app.config["POSTHOG_WEB"]["FLUSH_INTERVAL"] = 0.1
PostHog(app)


@app.get("/pages/<name>/")
def page(name: str) -> str:
    return f"<!doctype html><title>{name}</title><h1>served by gunicorn</h1>"


@app.route("/login/", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return "<!doctype html><title>Log in</title><form method=post><input name=username></form>"
    user = load_user(request.form["username"])
    assert user is not None
    flask_login.login_user(user)
    return redirect("/pages/welcome/", 303)


@app.post("/logout/")
def logout() -> ResponseReturnValue:
    flask_login.logout_user()
    return redirect("/pages/bye/", 303)


@app.post("/profile/")
@flask_login.login_required
def profile() -> ResponseReturnValue:
    emails = json.loads(USERS.read_text())
    emails[flask_login.current_user.id] = request.form["email"]
    USERS.write_text(json.dumps(emails))
    return redirect("/pages/saved/", 303)


@app.get("/hold/<token>")
def held(token: str) -> ResponseReturnValue:
    return Response(hold(token), content_type="text/plain")


@app.after_request
def worker_pid(response: Response) -> Response:
    response.headers[PID_HEADER] = str(os.getpid())
    return response
