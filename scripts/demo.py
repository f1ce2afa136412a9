"""The README's first command: the four example apps, a scripted visitor, the local inbox.

Starts the inbox and the Django, Starlette, FastAPI and Flask examples on free local ports,
walks one visitor through each app over real HTTP (a newsletter link, browsing, log in,
a purchase, an API call that records a ``$screen``, log out), then prints what the inbox
received, person by person, with PostHog's merge of the anonymous visitor into the user.
Exits 0 when every expected event arrived, 1 (saying what is missing) otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
LANDING = "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale"
USER, PASSWORD = "demo", "demo-password"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0


class DemoError(Exception):
    """Something the demo needs did not happen; the message says what."""


# --- child processes ------------------------------------------------------------------


class Child:
    """A server process with its output in a log file; stopped by :func:`stop_all`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            # Same process group as the demo: whoever stops the demo's group stops these too.
            self.process = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )
        _children.append(self)

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> str:
        """The first group of ``pattern`` once it appears in the output."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.output())
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                raise DemoError(f"{self.name} exited with status {self.process.returncode}")
            if time.monotonic() > deadline:
                raise DemoError(f"{self.name} did not start within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after :data:`STOP_TIMEOUT` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT)


_children: list[Child] = []


def stop_all() -> None:
    """Stop every child, newest first (the inbox last, so late events still land)."""
    while _children:
        _children.pop().stop()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # runs the finally blocks, which stop the children


# --- the apps ---------------------------------------------------------------------------


@dataclass
class App:
    """One example app and how to reach its pages."""

    name: str
    about: str
    target: str
    uvicorn_args: tuple[str, ...] = ()
    trailing_slash: bool = False
    # A WSGI app runs under gunicorn instead (its command line), ready at this log line.
    server: tuple[str, ...] = ()
    ready: str = r"Uvicorn running on (http://\S+)"
    url: str = ""
    child: Child | None = None
    events: list[dict[str, Any]] = field(default_factory=list)

    def path(self, path: str) -> str:
        return f"/{path}/" if self.trailing_slash else f"/{path}"


def make_apps() -> list[App]:
    return [
        App(
            "django",
            "example_django (Django under uvicorn, ASGI)",
            "shop.asgi:application",
            ("--app-dir", "example_django", "--lifespan", "off"),
            trailing_slash=True,
        ),
        App(
            "starlette", "example_starlette/starlette_app.py", "example_starlette.starlette_app:app"
        ),
        App("fastapi", "example_starlette/fastapi_app.py", "example_starlette.fastapi_app:app"),
        App(
            "flask",
            "example_flask/shop.py (Flask under gunicorn, WSGI)",
            "example_flask.shop:app",
            server=("-m", "gunicorn", "--bind", "127.0.0.1:0", "--threads", "2"),
            ready=r"Listening at: (http://\S+)",
        ),
    ]


def child_env(inbox_url: str, workdir: Path) -> dict[str, str]:
    """The environment of the apps: no API key, the inbox as the PostHog host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTHOG_", "DJANGO_"))}
    env.update(
        POSTHOG_HOST=inbox_url,
        DJANGO_SETTINGS_MODULE="shop.settings",
        EXAMPLE_DB=str(workdir / "shop.sqlite3"),
        EXAMPLE_DEBUG="1",
        # The inbox's default secret key: the apps evaluate the demo's flags locally.
        POSTHOG_FLAGS_SECRET_KEY="phs_posthog_web_inbox",
        PYTHONUNBUFFERED="1",
    )
    return env


def start(apps: list[App], workdir: Path) -> str:
    """Start the inbox, then the apps (in parallel); return the inbox URL."""
    inbox = Child(
        "the inbox",
        [
            PYTHON,
            "-m",
            "posthog_web.inbox",
            "--port",
            "0",
            "--db",
            str(workdir / "inbox.db"),
            "--flags",
            str(ROOT / "scripts" / "demo_flags.json"),
        ],
        {**os.environ, "PYTHONUNBUFFERED": "1"},
        workdir / "inbox.log",
    )
    inbox_url = inbox.wait_for(r"^(http://\S+)$")  # its first stdout line
    env = child_env(inbox_url, workdir)
    migrate = None
    if any(app.name == "django" for app in apps):
        migrate = Child(
            "manage.py migrate",
            [PYTHON, "example_django/manage.py", "migrate", "--verbosity", "0"],
            env,
            workdir / "migrate.log",
        )
    for app in apps:
        argv = [PYTHON, "-m", "uvicorn", app.target, "--host", "127.0.0.1", "--port", "0"]
        argv = [PYTHON, *app.server, app.target] if app.server else [*argv, *app.uvicorn_args]
        app.child = Child(app.name, argv, env, workdir / f"{app.name}.log")
    for app in apps:
        assert app.child is not None
        app.url = app.child.wait_for(app.ready)
    if migrate is not None:
        try:
            status = migrate.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise DemoError("manage.py migrate took too long") from None
        if status != 0:
            raise DemoError(f"manage.py migrate failed:\n{migrate.output()}")
        _children.remove(migrate)  # done: only servers are left to watch and stop
    return inbox_url


# --- the visitor --------------------------------------------------------------------------


def visit(app: App) -> None:
    """One visitor's journey through ``app``, in a browser of its own."""
    browser = requests.Session()
    browser.headers["User-Agent"] = BROWSER_UA

    def send(method: str, path: str, **kwargs: Any) -> requests.Response:
        # Django's CSRF check takes the token from this header; the other apps ignore it.
        headers = {"X-CSRFToken": browser.cookies.get("csrftoken") or ""}
        response = browser.request(method, app.url + path, headers=headers, timeout=10, **kwargs)
        if response.status_code != 200:
            raise DemoError(f"{app.name}: {method} {path} answered {response.status_code}")
        return response

    send("GET", LANDING)
    send("GET", app.path("pricing"))
    send("GET", app.path("products/2"))
    send("GET", app.path("login"))
    logged_in = send("POST", app.path("login"), data={"username": USER, "password": PASSWORD})
    if not logged_in.url.endswith(app.path("dashboard")):
        raise DemoError(f"{app.name}: logging in as {USER} did not reach the dashboard")
    send("POST", app.path("products/2/buy"))
    send("GET", app.path("api/products"))
    send("POST", app.path("logout"))


# --- what the inbox received -------------------------------------------------------------


class Inbox:
    """The inbox's JSON API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def events(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/events", timeout=10)
        answer.raise_for_status()
        events: list[dict[str, Any]] = answer.json()["events"]
        return events

    def persons(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.url}/api/persons", timeout=10)
        answer.raise_for_status()
        persons: list[dict[str, Any]] = answer.json()["persons"]
        return persons

    def analytics(self) -> dict[str, Any]:
        answer = requests.get(f"{self.url}/api/view/analytics", params={"range": "all"}, timeout=30)
        answer.raise_for_status()
        figures: dict[str, Any] = answer.json()
        return figures


SUMMARY_BREAKDOWNS = (
    ("pages", "top pages"),
    ("entry_pages", "entry pages"),
    ("exit_pages", "exit pages"),
    ("referring_domains", "referring domains"),
    ("utm_sources", "UTM sources"),
    ("utm_campaigns", "UTM campaigns"),
    ("browsers", "browsers"),
    ("device_types", "device types"),
)


def print_analytics(inbox: Inbox, out: TextIO) -> None:
    """The web analytics summary, read back from the inbox's API, as text."""
    f = inbox.analytics()
    print("\nWeb analytics, all events (read back from the inbox's /api/view/analytics):", file=out)
    print(
        f"  visitors {f['visitors']}   page views {f['page_views']}   sessions {f['sessions']}"
        f"   session duration {f['session_duration']:.1f} s   bounce rate {f['bounce_rate']:.0%}",
        file=out,
    )
    for name, title in SUMMARY_BREAKDOWNS:
        rows = f["breakdowns"][name]
        shown = ", ".join(f"{r['value']} {r.get('views', r.get('sessions'))}" for r in rows[:5])
        print(f"  {title:<18} {shown or 'none'}", file=out)


@dataclass
class Journey:
    """The ids one journey's events were sent with, and what did not arrive."""

    anonymous: str | None = None
    user: str | None = None
    after_logout: str | None = None
    missing: list[str] = field(default_factory=list)


def _find(
    events: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]
) -> dict[str, Any] | None:
    return next((e for e in events if test(e)), None)


def _is_page(event: dict[str, Any], pathname: str) -> bool:
    return event["event"] == "$pageview" and event["properties"].get("$pathname") == pathname


def examine(app: App) -> Journey:
    """Check that every event of the journey arrived, attributed to the right id."""
    events, journey = app.events, Journey()
    landing = _find(
        events, lambda e: _is_page(e, "/") and e["properties"].get("utm_source") == "newsletter"
    )
    if landing is None:
        journey.missing.append("the landing $pageview with utm_source=newsletter")
        return journey
    anonymous = journey.anonymous = landing["distinct_id"]
    if landing["properties"].get("$feature/new-banner") is None:
        journey.missing.append("$feature/new-banner on the landing $pageview (the banner flag)")
    if not _find(
        events, lambda e: _is_page(e, app.path("pricing")) and e["distinct_id"] == anonymous
    ):
        journey.missing.append(f"the anonymous $pageview of {app.path('pricing')}")
    alias = _find(
        events,
        lambda e: e["event"] == "$create_alias" and e["properties"].get("alias") == anonymous,
    )
    if alias is None:
        journey.missing.append("the $create_alias linking the visitor to the user at log in")
        return journey
    user = journey.user = alias["distinct_id"]
    expected: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
        ("$identify", lambda e: e["event"] == "$identify"),
        (f"$pageview of {app.path('dashboard')}", lambda e: _is_page(e, app.path("dashboard"))),
        ("purchase_completed", lambda e: e["event"] == "purchase_completed"),
        (
            "the $screen 'Products' from the API call",
            lambda e: e["event"] == "$screen" and e["properties"].get("$screen_name") == "Products",
        ),
    ]
    for label, test in expected:
        if _find(events, lambda e, test=test: test(e) and e["distinct_id"] == user) is None:  # type: ignore[misc]
            journey.missing.append(f"{label} by {user}")
    after = _find(events, lambda e: _is_page(e, "/") and e["distinct_id"] not in (anonymous, user))
    if after is None:
        journey.missing.append("the $pageview of / by a new anonymous id after log out")
    else:
        journey.after_logout = after["distinct_id"]
    return journey


def collect(apps: list[App], inbox: Inbox, timeout: float) -> dict[str, Journey]:
    """Drive each app in turn and wait (bounded) until its events are in the inbox."""
    journeys: dict[str, Journey] = {}
    seen = len(inbox.events())
    for app in apps:
        visit(app)
        deadline = time.monotonic() + timeout
        while True:
            events = inbox.events()
            app.events = events[seen:]
            journey = examine(app)
            if not journey.missing or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        seen = len(events)
        journeys[app.name] = journey
        state = "ok" if not journey.missing else "MISSING: " + "; ".join(journey.missing)
        print(f"  {app.name:<10} {len(app.events):>2} events  {state}")
    return journeys


# --- the timeline -------------------------------------------------------------------------


def _short(distinct_id: str) -> str:
    # A UUIDv7 starts with the time, the same for every visitor here: show its end.
    return f"…{distinct_id[-12:]}" if len(distinct_id) > 16 else distinct_id


def _detail(event: dict[str, Any]) -> str:
    props = event["properties"]
    name = event["event"]
    if name == "$pageview":
        query = props.get("$current_url", "").partition("?")[2]
        return props.get("$pathname", "") + (f"?{query}" if query else "")
    if name == "$screen":
        return str(props.get("$screen_name"))
    if name == "$create_alias":
        return f"{_short(str(props.get('alias')))} joins {event['distinct_id']}"
    if name == "$identify":
        return "$set " + ", ".join(f"{k}={v}" for k, v in (event.get("$set") or {}).items())
    shown = {k: v for k, v in props.items() if not k.startswith("$")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def _lines(events: list[tuple[str, dict[str, Any]]], anonymous: set[str]) -> Iterator[str]:
    for app_name, event in events:
        who = event["distinct_id"]
        who = f"anonymous {_short(who)}" if who in anonymous else who
        stamp = str(event.get("timestamp") or "")[11:23]
        yield f"    {stamp}  {app_name:<9}  {event['event']:<18}  {who:<24}  {_detail(event)}"


def print_timeline(apps: list[App], journeys: dict[str, Journey], inbox: Inbox) -> list[str]:
    """Print the events person by person; return the merges that are missing."""
    events = [(app.name, event) for app in apps for event in app.events]
    anonymous = {
        i for j in journeys.values() for i in (j.anonymous, j.after_logout) if i is not None
    }
    persons = inbox.persons()
    print("\nWhat PostHog received, person by person (GET /api/events, /api/persons):")
    placed: set[str] = set()
    for number, person in enumerate(persons, 1):
        ids = set(person["distinct_ids"])
        placed |= ids
        props = ", ".join(f"{k}={v}" for k, v in person.get("properties", {}).items())
        state = "identified" if person.get("is_identified") else "anonymous"
        print(f"\n  person {number} ({state}; {props or 'no properties'})")
        print("    distinct ids: " + ", ".join(_short(i) for i in sorted(ids)))
        print("\n".join(_lines([(a, e) for a, e in events if e["distinct_id"] in ids], anonymous)))
    rest = [(a, e) for a, e in events if e["distinct_id"] not in placed]
    if rest:
        print("\n  no person: the new anonymous ids after log out (personless events)")
        print("\n".join(_lines(rest, anonymous)))
    missing = []
    for app in apps:
        journey = journeys[app.name]
        if (
            journey.anonymous
            and journey.user
            and not any(
                {journey.anonymous, journey.user} <= set(p["distinct_ids"]) for p in persons
            )
        ):
            missing.append(f"{app.name}: the merge of the visitor into {journey.user}")
    print(
        "\nBefore log in, each visitor is an anonymous id and its events are personless; at"
        "\nlog in, $create_alias merges that id into the user's person. After log out the"
        "\nbrowser gets a new anonymous id, which belongs to no one."
    )
    shared = [name for name in ("starlette", "fastapi", "flask") if name in {a.name for a in apps}]
    if len(shared) > 1:
        names = [name.capitalize().replace("api", "API") for name in shared]
        listed = ", ".join(names[:-1]) + " and " + names[-1]
        print(f"{listed} log in the same user id (demo): one person for them all.")
    return missing


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the inbox and the apps up afterwards and print their URLs (Ctrl-C stops)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=["django", "starlette", "fastapi", "flask"],
        help="run only this app (repeatable)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        help="seconds to wait for one app's events to reach the inbox (default: 15)",
    )
    return parser.parse_args(argv)


def print_logs() -> None:
    """The last lines each child printed, to stderr."""
    for child in _children:
        tail = "\n".join(child.output().splitlines()[-15:])
        print(f"\n--- {child.name}, last lines ---\n{tail}", file=sys.stderr)


def keep_running(apps: list[App], inbox_url: str, out: TextIO) -> int:
    print(f"\nStill running (Ctrl-C stops everything):\n  inbox      {inbox_url}/", file=out)
    for app in apps:
        print(f"  {app.name:<10} {app.url}/   (log in as {USER} / {PASSWORD})", file=out)
    print(
        f"\nLook at {inbox_url}/analytics for what PostHog's Web Analytics makes of the visits,"
        "\nthen Events (live), Persons (the login's merge), Sessions and Warnings; browse an app"
        " and watch the events arrive.",
        file=out,
    )
    out.flush()
    try:
        while True:
            for child in _children:
                if child.process.poll() is not None:
                    print(f"{child.name} stopped (status {child.process.returncode})")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    apps = [app for app in make_apps() if not args.only or app.name in args.only]
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="posthog-web-demo-") as tmp:
        workdir = Path(tmp)
        try:
            inbox_url = start(apps, workdir)
            print("posthog-web demo: the example apps send to a local PostHog inbox\n")
            print(f"  inbox      {inbox_url}/   (events live; /analytics, /persons, /sessions)")
            for app in apps:
                print(f"  {app.name:<10} {app.url}/   {app.about}")
            print(
                "\nOne visitor per app: a newsletter link, pricing, a product, log in as "
                f"{USER}, a purchase,\nan API call recording a $screen, log out.\n"
            )
            inbox = Inbox(inbox_url)
            journeys = collect(apps, inbox, args.timeout)
            missing = [f"{n}: {m}" for n, j in journeys.items() for m in j.missing]
            missing += print_timeline(apps, journeys, inbox)
            if missing:
                print("\ndemo FAILED: these events did not arrive:", file=sys.stderr)
                print("\n".join(f"  - {m}" for m in missing), file=sys.stderr)
                print_logs()
                return 1
            count = sum(len(app.events) for app in apps)
            elapsed = time.monotonic() - began
            print(f"\nAll {count} events arrived, attributed as expected ({elapsed:.1f} s).")
            print_analytics(inbox, sys.stdout)
            if args.keep_running:
                return keep_running(apps, inbox_url, sys.stdout)
            return 0
        except (DemoError, requests.RequestException) as exc:
            print(f"\ndemo FAILED: {exc}", file=sys.stderr)
            print_logs()
            return 1
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        finally:
            stop_all()


if __name__ == "__main__":
    sys.exit(main())
