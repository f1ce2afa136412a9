"""The journeys of the several-workers tests and what the inbox must get from them.

Each adapter's test_workers.py subclasses :class:`WorkersContract` (or
:class:`FormSiteWorkers`): one browser walks an app served by tests/gunicorn_workers.py's
``gunicorn --workers 2``, every request on the other worker than the one before, and the
identity rules are checked on what the workers sent.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER
from tests.gunicorn_workers import Gunicorn, gunicorn

PAGES = 20


@dataclass(frozen=True)
class Person:
    """A user of the journey: the form's username, the distinct id, the email sent."""

    username: str
    distinct_id: str
    email: str


# The journeys' people, for an app whose distinct ids are the usernames.
ADA = Person("ada", "ada", "ada@example.com")
GRACE = Person("grace", "grace", "grace@example.com")
NEW_EMAIL = "first@new.example"
SWITCH_PAGES = 11


@dataclass(frozen=True)
class Site:
    """How a browser logs in, logs out and changes its email on one app (each step one
    or more :meth:`Gunicorn.send`)."""

    log_in: Callable[[Gunicorn, requests.Session, str], None]
    log_out: Callable[[Gunicorn, requests.Session], None]
    change_email: Callable[[Gunicorn, requests.Session, str], None]


def walk(server: Gunicorn, site: Site, first: str, second: str) -> None:
    """One browser: three pages, log in as ``first``, PAGES pages with a change of email
    (NEW_EMAIL) half-way, log out, a page, log in as ``second``, PAGES pages; then the
    server is stopped (every worker flushes what it queued)."""
    with requests.Session() as browser:
        browser.headers.update(BROWSER)
        for n in range(3):
            assert server.send(browser, "GET", f"/pages/before{n}/").status_code == 200
        site.log_in(server, browser, first)
        for n in range(PAGES):
            if n == PAGES // 2:
                site.change_email(server, browser, NEW_EMAIL)
            assert server.send(browser, "GET", f"/pages/{first}{n}/").status_code == 200
        site.log_out(server, browser)
        assert server.send(browser, "GET", "/pages/between/").status_code == 200
        site.log_in(server, browser, second)
        for n in range(PAGES):
            assert server.send(browser, "GET", f"/pages/{second}{n}/").status_code == 200
    server.stop()
    served = server.served
    assert len(set(served)) == 2  # both workers, and never one twice in a row:
    assert all(a != b for a, b in itertools.pairwise(served))


def _in_time_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Arrival order mixes the workers' batches; UUIDv7s sort by the time of the call.
    return sorted(events, key=lambda e: uuid.UUID(e["uuid"]).bytes)


def check_journey(inbox: InboxServer, first: Person, second: Person) -> None:
    """What the inbox got from :func:`walk`: per login one ``$create_alias`` of the
    anonymous id that browsed before it and one ``$identify``, one more for the new email;
    every page view on the anonymous id before the login and on the user's id after it;
    one session per person (the logout starts a new one), whichever worker served."""
    every_view = inbox.events("$pageview")
    paths = [v["properties"]["$current_url"].split("/", 3)[3] for v in every_view]
    assert sorted(paths).count("login/") == 2  # the login forms (GET)
    views = dict(zip(paths, every_view, strict=True))
    assert len(views) == 1 + 3 + PAGES + 1 + PAGES
    anonymous = {views[f"pages/before{n}/"]["distinct_id"] for n in range(3)}
    after_logout = views["pages/between/"]["distinct_id"]
    [before] = anonymous
    assert len({before, after_logout, first.distinct_id, second.distinct_id}) == 4
    aliases = _in_time_order(inbox.events("$create_alias"))
    assert [(e["distinct_id"], e["properties"]["alias"]) for e in aliases] == [
        (first.distinct_id, before),
        (second.distinct_id, after_logout),
    ]
    identifies = _in_time_order(inbox.events("$identify"))
    assert [(e["distinct_id"], e["$set"]["email"]) for e in identifies] == [
        (first.distinct_id, first.email),
        (first.distinct_id, NEW_EMAIL),
        (second.distinct_id, second.email),
    ]
    for person, anon_id in ((first, before), (second, after_logout)):
        mine = [views[f"pages/{person.username}{n}/"] for n in range(PAGES)]
        assert {v["distinct_id"] for v in mine} == {person.distinct_id}
        theirs = [v for v in every_view if v["distinct_id"] in (anon_id, person.distinct_id)]
        assert len(theirs) == (3 if person is first else 1) + 1 + PAGES
        assert len({v["properties"]["$session_id"] for v in theirs}) == 1
    assert (
        views["pages/before0/"]["properties"]["$session_id"]
        != (views["pages/between/"]["properties"]["$session_id"])
    )
    merged = [sorted(p["distinct_ids"]) for p in inbox.persons()]
    assert sorted(merged) == sorted(
        [sorted([before, first.distinct_id]), sorted([after_logout, second.distinct_id])]
    )
    assert inbox.merge_refusals() == []


def walk_switch(server: Gunicorn, site: Site, first: str, second: str) -> None:
    """One browser: three pages, log in as ``first``, pages, then log in as ``second``
    without logging out (a shared computer, a second account), pages; then stop. The
    second login goes to the other worker than the first, which never saw this browser's
    first link (an odd number of requests between them)."""
    logins = []
    with requests.Session() as browser:
        browser.headers.update(BROWSER)
        for n in range(3):
            assert server.send(browser, "GET", f"/pages/before{n}/").status_code == 200
        for username in (first, second):
            site.log_in(server, browser, username)
            logins.append(server.served[-1])
            for n in range(SWITCH_PAGES):
                path = f"/pages/{username}{n}/"
                assert server.send(browser, "GET", path).status_code == 200
    server.stop()
    assert logins[0] != logins[1]


def check_switch(inbox: InboxServer, first: Person, second: Person) -> None:
    """What the inbox got from :func:`walk_switch`: the anonymous id joins ``first`` only;
    the second login links nothing (this browser's id is already someone's), whichever
    worker serves it, and sends its own ``$identify``; the two people stay apart."""
    views = {v["properties"]["$current_url"].split("/", 3)[3]: v for v in inbox.events("$pageview")}
    [before] = {views[f"pages/before{n}/"]["distinct_id"] for n in range(3)}
    for person in (first, second):
        mine = {views[f"pages/{person.username}{n}/"]["distinct_id"] for n in range(SWITCH_PAGES)}
        assert mine == {person.distinct_id}
    aliases = [(e["distinct_id"], e["properties"]["alias"]) for e in inbox.events("$create_alias")]
    assert aliases == [(first.distinct_id, before)]
    identifies = _in_time_order(inbox.events("$identify"))
    assert [(e["distinct_id"], e["$set"]["email"]) for e in identifies] == [
        (first.distinct_id, first.email),
        (second.distinct_id, second.email),
    ]
    merged = sorted(sorted(p["distinct_ids"]) for p in inbox.persons())
    assert merged == sorted([sorted([before, first.distinct_id]), [second.distinct_id]])
    assert inbox.merge_refusals() == []


@contextlib.contextmanager
def gunicorn_with_users(app: str, host: str, workdir: Path) -> Iterator[Gunicorn]:
    """:func:`gunicorn` for an app without a database: ``WORKERS_USERS`` names a JSON file
    of ADA's and GRACE's emails (``{"ada": "ada@example.com", ...}``) every worker reads."""
    users = workdir / "users.json"
    users.write_text(json.dumps({person.username: person.email for person in (ADA, GRACE)}))
    with gunicorn(app, host, workdir, WORKERS_USERS=str(users)) as server:
        yield server


def _form_log_in(server: Gunicorn, browser: requests.Session, username: str) -> None:
    assert server.send(browser, "GET", "/login/").status_code == 200
    assert server.send(browser, "POST", "/login/", {"username": username}).status_code == 303


def _form_log_out(server: Gunicorn, browser: requests.Session) -> None:
    assert server.send(browser, "POST", "/logout/").status_code == 303


def _form_change_email(server: Gunicorn, browser: requests.Session, email: str) -> None:
    assert server.send(browser, "POST", "/profile/", {"email": email}).status_code == 303


FORM_SITE = Site(_form_log_in, _form_log_out, _form_change_email)
"""An app whose forms (``/login/``, ``/logout/``, ``/profile/``) take plain fields, no
CSRF token, and answer 303 (tests/flask/workers_app.py, tests/wsgi/workers_app.py)."""


class WorkersContract:
    """The tests of each adapter's test_workers.py: a ``Test...`` subclass gives the
    ``site`` and the two people, and its module a ``server`` fixture (a started
    :class:`Gunicorn`)."""

    site: ClassVar[Site]
    first: ClassVar[Person]
    second: ClassVar[Person]

    def test_one_identify_per_login_across_workers(
        self, server: Gunicorn, inbox: InboxServer
    ) -> None:
        walk(server, self.site, self.first.username, self.second.username)
        check_journey(inbox, self.first, self.second)

    def test_a_second_login_without_logout_links_nothing(
        self, server: Gunicorn, inbox: InboxServer
    ) -> None:
        walk_switch(server, self.site, self.first.username, self.second.username)
        check_switch(inbox, self.first, self.second)


class FormSiteWorkers(WorkersContract):
    """:class:`WorkersContract` for a FORM_SITE app without a database: a ``Test...``
    subclass names the app (``app = "tests.flask.workers_app:app"``)."""

    app: ClassVar[str]
    site = FORM_SITE
    first = ADA
    second = GRACE

    @pytest.fixture
    def server(self, inbox: InboxServer, tmp_path: Path) -> Iterator[Gunicorn]:
        with gunicorn_with_users(self.app, inbox.url, tmp_path) as server:
            yield server
