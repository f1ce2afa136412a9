"""Process-level promises, each in a real subprocess: exit flush, fork, no framework import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from posthog_web.inbox import InboxServer

pytestmark = pytest.mark.slow


def _run(code: str, inbox_url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INBOX_URL": inbox_url}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_exit_flush_delivers_what_was_queued(inbox: InboxServer) -> None:
    result = _run(
        """
        import os
        from posthog_web import Client
        client = Client("phc_test", host=os.environ["INBOX_URL"], flush_interval=60, flush_at=1000)
        for i in range(3):
            client.capture(f"exit{i}", distinct_id="u1")
        """,
        inbox.url,
    )
    assert result.returncode == 0, result.stderr
    assert [e["event"] for e in inbox.events()] == ["exit0", "exit1", "exit2"]


def test_exit_flush_is_bounded_and_logs_what_was_left(unused_port: int) -> None:
    result = _run(
        """
        import logging, os
        logging.basicConfig(level=logging.WARNING)
        from posthog_web import Client
        client = Client("phc_test", host=os.environ["INBOX_URL"], flush_interval=60,
                        flush_at=1000, exit_flush_timeout=1.0, max_retries=50)
        client.capture("lost", distinct_id="u1")
        """,
        f"http://127.0.0.1:{unused_port}",
    )
    assert result.returncode == 0, result.stderr
    assert "exited with 1 event(s) undelivered" in result.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_child_gets_a_fresh_queue_and_parent_sends_its_own(inbox: InboxServer) -> None:
    result = _run(
        """
        import os, sys
        from posthog_web import Client
        client = Client("phc_test", host=os.environ["INBOX_URL"], flush_interval=60, flush_at=1000)
        client.capture("before-fork", distinct_id="parent")
        assert client.flush(timeout=10)
        client.capture("parent-pending", distinct_id="parent")
        pid = os.fork()
        if pid == 0:
            client.capture("child", distinct_id="child")
            ok = client.flush(timeout=10)
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert client.flush(timeout=10)
        """,
        inbox.url,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(e["event"] for e in inbox.events())
    assert names == ["before-fork", "child", "parent-pending"]


def test_the_core_imports_no_web_framework() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import importlib, pkgutil, sys
                import posthog_web
                # The adapters may import their frameworks (and Celery imports Django).
                skip = ("posthog_web.django", "posthog_web.asgi", "posthog_web.fastapi",
                        "posthog_web.celery", "posthog_web.flask",
                        "posthog_web.jinja", "posthog_web.testing")
                names = []

                def walk(path, prefix):
                    # Not pkgutil.walk_packages: it imports every package it finds, skipped or not.
                    for info in pkgutil.iter_modules(path, prefix):
                        if info.name.startswith(skip) or info.name.endswith("__main__"):
                            continue
                        module = importlib.import_module(info.name)
                        names.append(info.name)
                        if info.ispkg:
                            walk(module.__path__, info.name + ".")

                walk(posthog_web.__path__, "posthog_web.")
                posthog_web.current
                bad = sorted(m for m in sys.modules
                             if m.split(".")[0] in ("django", "starlette", "fastapi", "asgiref"))
                assert not bad, bad
                assert "posthog_web.client" in names and "posthog_web.inbox" in names, names
                print(len(names))
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 5


def test_import_starts_no_thread() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import threading, posthog_web; c = posthog_web.Client('phc_x');"
            "assert threading.active_count() == 1, threading.enumerate()",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_cli_version_and_help() -> None:
    from posthog_web.__main__ import main

    assert main(["version"]) == 0
    assert main([]) == 0
    assert main(["nope"]) == 2
