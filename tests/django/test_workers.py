"""Django under a real ``gunicorn --workers 2``: the identity rules hold across workers.

One browser (a ``requests.Session`` keeping its cookies) makes every request on a new
connection, each served by the other worker than the one before (tests/gunicorn_workers.py),
so no rule can lean on a worker's memory. It logs in with Django's ``LoginView`` (users
and sessions in a SQLite file both workers share), reads pages, changes its email, logs
out with ``LogoutView`` and logs in as someone else; or logs in twice without a logout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.gunicorn_workers import ROOT, Gunicorn, gunicorn
from tests.workers_contract import Person, Site, WorkersContract

pytestmark = pytest.mark.slow

PASSWORD = "workers-password"  # tests/django/workers_site.py's
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _log_in(server: Gunicorn, browser: requests.Session, username: str) -> None:
    form = server.send(browser, "GET", "/login/")
    [token] = _CSRF.findall(form.text)
    data = {"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD}
    answer = server.send(browser, "POST", "/login/", data=data)
    assert answer.status_code == 302, answer.text


def _log_out(server: Gunicorn, browser: requests.Session) -> None:
    data = {"csrfmiddlewaretoken": browser.cookies["csrftoken"]}
    assert server.send(browser, "POST", "/logout/", data=data).status_code == 302


def _change_email(server: Gunicorn, browser: requests.Session, email: str) -> None:
    data = {"csrfmiddlewaretoken": browser.cookies["csrftoken"], "email": email}
    assert server.send(browser, "POST", "/profile/", data=data).status_code == 302


@pytest.fixture
def server(inbox: InboxServer, tmp_path: Path) -> Iterator[Gunicorn]:
    """gunicorn -w 2 serving tests/django/workers_site.py, its tables and users made."""
    db = str(tmp_path / "site.sqlite3")
    command = [sys.executable, "-m", "tests.django.workers_site"]
    env = {**os.environ, "WORKERS_DB": db, "POSTHOG_HOST": inbox.url}
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=60)
    app = "tests.django.workers_site:application"
    with gunicorn(app, inbox.url, tmp_path, WORKERS_DB=db) as server:
        yield server


class TestDjangoWorkers(WorkersContract):
    site = Site(_log_in, _log_out, _change_email)
    first = Person("ada", "1", "ada@example.com")  # Django's ids: the primary keys
    second = Person("grace", "2", "grace@example.com")
