"""What the real-browser test needs: Debian's Chromium, Playwright, and posthog-js from npm.

Locally a missing piece skips the test and says how to install it; under CI (``CI`` set)
it fails instead, because CI installs them (scripts/install-browser-deps).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
CHROMIUM = Path("/usr/bin/chromium")
POSTHOG_JS_DIST = ROOT / ".cache" / "npm" / "node_modules" / "posthog-js" / "dist"
INSTALL_HINT = "run scripts/install-browser-deps (Debian's chromium and posthog-js from npm)"
# posthog-docs-10: these are the flags that work in this sandbox.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT = 30.0


def missing_dependencies() -> list[str]:
    """What the browser test cannot run without, in words."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if not (POSTHOG_JS_DIST / "array.full.js").exists():
        missing.append(f"{POSTHOG_JS_DIST / 'array.full.js'} (npm package posthog-js)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package (the dev extra)")
    return missing


@pytest.fixture(scope="session")
def browser_dependencies() -> None:
    missing = missing_dependencies()
    if not missing:
        return
    message = f"the browser test needs {', '.join(missing)}: {INSTALL_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class App:
    """An example app running in its own process on 127.0.0.1."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    paths: dict[str, str]
    user_id: str

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_until_serving(app: App) -> None:
    """Poll the app's copy of posthog-js (not a page view) until it answers, bounded."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    probe = f"{app.url}/static/posthog-js/array.full.js"
    while True:
        if app.process.poll() is not None:
            raise AssertionError(
                f"{app.name} exited with {app.process.returncode}:\n{app.output()}"
            )
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{app.name} did not start in {STARTUP_TIMEOUT} s:\n{app.output()}"
            )
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def example_app(
    request: pytest.FixtureRequest, inbox_url: str, tmp_path: Path, browser_options: str
) -> Iterator[App]:
    """The Django or the Starlette example, pointed at the inbox, serving posthog-js."""
    name = request.param
    port = free_port()
    env = {
        **os.environ,
        "POSTHOG_API_KEY": "phc_browser_test",
        "POSTHOG_HOST": inbox_url,
        "POSTHOG_JS_DIST": str(POSTHOG_JS_DIST),
        "EXAMPLE_POSTHOG_JS_OPTIONS": browser_options,
        "EXAMPLE_DB": str(tmp_path / "shop.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "shop.settings",  # not the test suite's
    }
    if name == "django":
        manage = [sys.executable, str(ROOT / "example_django" / "manage.py")]
        subprocess.run(
            [*manage, "migrate", "--verbosity=0"],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=60,
            capture_output=True,
        )
        command = [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"]
        paths = {
            "home": "/",
            "pricing": "/pricing/",
            "product": "/products/1/",
            "login": "/login/",
            "dashboard": "/dashboard/",
        }
        user_id = "1"  # the demo user's primary key (shop/migrations/0001_demo_user.py)
    else:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "example_starlette.starlette_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
        paths = {
            "home": "/",
            "pricing": "/pricing",
            "product": "/products/1",
            "login": "/login",
            "dashboard": "/dashboard",
        }
        user_id = "demo"
    log = tmp_path / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    app = App(name, f"http://127.0.0.1:{port}", process, log, paths, user_id)
    try:
        wait_until_serving(app)
        yield app
    finally:
        stop(process)
