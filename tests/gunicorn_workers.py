"""A real ``gunicorn --workers 2`` and a browser that each request sends to the other worker.

Both workers accept on one socket, so which one serves a request is the kernel's choice.
To make every request land on the worker that did not serve the previous one, another
connection keeps that worker busy: ``GET /hold/<token>`` (the app's ``hold`` view) blocks
until the test releases it, and the only idle sync worker serves the browser. The apps
name the serving process in the ``X-Worker-Pid`` header. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

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


def _wait(check: Callable[[], object], timeout: float, what: str) -> None:
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
    answers: list[requests.Response]


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
