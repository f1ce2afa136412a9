"""A bare WSGI app under a real ``gunicorn --workers 2``: the helper's remembered login and
the identity rules hold across workers, as tests/django/test_workers.py shows for Django.

Every request of the one browser goes to the other worker than the one before
(tests/gunicorn_workers.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.gunicorn_workers import (
    Gunicorn,
    Person,
    Site,
    check_journey,
    check_switch,
    gunicorn,
    walk,
    walk_switch,
)

pytestmark = pytest.mark.slow

ADA = Person("ada", "ada", "ada@example.com")
GRACE = Person("grace", "grace", "grace@example.com")


def _log_in(server: Gunicorn, browser: requests.Session, username: str) -> None:
    assert server.send(browser, "GET", "/login/").status_code == 200
    assert server.send(browser, "POST", "/login/", {"username": username}).status_code == 303


def _log_out(server: Gunicorn, browser: requests.Session) -> None:
    assert server.send(browser, "POST", "/logout/").status_code == 303


def _change_email(server: Gunicorn, browser: requests.Session, email: str) -> None:
    assert server.send(browser, "POST", "/profile/", {"email": email}).status_code == 303


SITE = Site(_log_in, _log_out, _change_email)


@pytest.fixture
def server(inbox: InboxServer, tmp_path: Path) -> Iterator[Gunicorn]:
    """gunicorn -w 2 serving tests/wsgi/workers_app.py, with its users file."""
    users = tmp_path / "users.json"
    users.write_text(json.dumps({p.username: p.email for p in (ADA, GRACE)}))
    app = "tests.wsgi.workers_app:app"
    with gunicorn(app, inbox.url, tmp_path, WORKERS_USERS=str(users)) as server:
        yield server


def test_one_identify_per_login_across_gunicorn_workers(
    server: Gunicorn, inbox: InboxServer
) -> None:
    walk(server, SITE, ADA.username, GRACE.username)
    check_journey(inbox, ADA, GRACE)


def test_a_second_login_without_logout_links_nothing(server: Gunicorn, inbox: InboxServer) -> None:
    walk_switch(server, SITE, ADA.username, GRACE.username)
    check_switch(inbox, ADA, GRACE)
