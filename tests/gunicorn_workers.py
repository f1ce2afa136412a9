"""A real ``gunicorn --workers 2`` and a browser that each request sends to the other worker.

Both workers accept on one socket, so which one serves a request is the kernel's choice.
To make every request land on the worker that did not serve the previous one, another
connection keeps that worker busy: ``GET /hold/<token>`` (the app's ``hold`` view) blocks
until the test releases it, and the only idle sync worker serves the browser. The apps
name the serving process in the ``X-Worker-Pid`` header. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from posthog_web.inbox import InboxServer
from tests.asgi.helpers import BROWSER

ROOT = Path(__file__).resolve().parents[1]
PID_HEADER = "X-Worker-Pid"
HOLD_DIR_ENV = "POSTHOG_WEB_TEST_HOLD_DIR"
_HOLD_SECONDS = 20.0


def hold(token: str) -> str:
    """The app side of ``/hold/<token>``: block (bounded) until the test releases it."""
    folder = Path(os.environ[HOLD_DIR_ENV])
    if not re.fullmatch(r"[0-9]{1,6}", token):
        raise ValueError(f"token must be digits, got {token!r}")
    (folder / f"{token}.held").write_text(str(os.getpid()))
    release = folder / f"{token}.release"
    deadline = time.monotonic() + _HOLD_SECONDS
    while not release.exists():
        if time.monotonic() > deadline:
            return "not released"
        time.sleep(0.005)
    return "released"


def _wait(check: object, timeout: float, what: str) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout} s")
        time.sleep(0.01)


@dataclass
class _Held:
    token: str
    pid: int
    thread: threading.Thread
    answers: list[requests.Response] = field(default_factory=list)


class Gunicorn:
    """``gunicorn --workers 2`` (sync) serving ``app`` with events sent to ``host``."""

    def __init__(self, app: str, host: str, workdir: Path, env: dict[str, str]) -> None:
        self.hold_dir = workdir / "holds"
        self.hold_dir.mkdir()
        self.log = workdir / "gunicorn.log"
        self.url = ""
        self._app = app
        self._env = {**os.environ, "POSTHOG_HOST": host, HOLD_DIR_ENV: str(self.hold_dir), **env}
        self._process: subprocess.Popen[bytes] | None = None
        self._tokens = iter(range(1, 1_000_000))
        self._held: _Held | None = None
        self.served: list[int] = []

    def start(self) -> Gunicorn:
        command = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "2"]
        command += ["--worker-class", "sync", "--no-control-socket", "--graceful-timeout", "20"]
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                [*command, self._app],
                cwd=ROOT,
                env=self._env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait(self._booted, 30, "gunicorn did not boot two workers")
        found = re.search(r"Listening at: (http://\S+)", self.log.read_text())
        assert found is not None
        self.url = found.group(1)
        self._held = self._hold()
        return self

    def _booted(self) -> bool:
        assert self._process is not None
        text = self.log.read_text()
        if self._process.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{text}")
        return "Listening at" in text and text.count("Booting worker") >= 2

    def _hold(self) -> _Held:
        token = str(next(self._tokens))
        answers: list[requests.Response] = []

        def call() -> None:
            headers = {"Connection": "close"}
            answers.append(requests.get(f"{self.url}/hold/{token}", headers=headers, timeout=30))

        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        held = self.hold_dir / f"{token}.held"
        _wait(lambda: held.exists() and held.read_text(), 10, "no worker took the hold")
        return _Held(token, int(held.read_text()), thread, answers)

    def _release(self, held: _Held) -> None:
        (self.hold_dir / f"{held.token}.release").touch()
        held.thread.join(timeout=10)
        assert not held.thread.is_alive(), "the held request did not finish"
        [answer] = held.answers
        assert answer.text == "released"

    def send(
        self, browser: requests.Session, method: str, path: str, data: dict[str, str] | None = None
    ) -> requests.Response:
        """One browser request on a new connection, served by the worker not held; then
        that worker is held and the other released, so the next request goes there."""
        assert self._held is not None, "start() first"
        response = browser.request(
            method,
            self.url + path,
            data=data,
            headers={"Connection": "close"},
            allow_redirects=False,
            timeout=10,
        )
        served = int(response.headers[PID_HEADER])
        assert served != self._held.pid
        held, self._held = self._held, self._hold()
        assert self._held.pid == served  # the only idle worker took the new hold
        self._release(held)
        self.served.append(served)
        return response

    def stop(self) -> None:
        """SIGTERM: the workers' exit flush sends what they queued; exit status 0."""
        if self._held is not None:
            self._release(self._held)
            self._held = None
        process = self._process
        assert process is not None
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        assert process.returncode == 0, self.log.read_text()

    def kill(self) -> None:
        if self._held is not None:
            (self.hold_dir / f"{self._held.token}.release").touch()
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)


@contextlib.contextmanager
def gunicorn(app: str, host: str, workdir: Path, **env: str) -> Iterator[Gunicorn]:
    """A started :class:`Gunicorn`, killed on the way out if the test did not stop it."""
    server = Gunicorn(app, host, workdir, env)
    try:
        yield server.start()
    finally:
        server.kill()


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
