"""capture_uncaught(): real processes whose uncaught exceptions reach a real inbox."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from posthog_web import Client, capture_uncaught
from posthog_web.inbox import InboxServer

SCRIPT = """
import os, sys, threading
from posthog_web import Client, capture_uncaught

def previous_hook(exc_type, exc, tb):
    print("previous sys hook ran:", exc_type.__name__, file=sys.stderr, flush=True)
    sys.__excepthook__(exc_type, exc, tb)

def previous_thread_hook(args):
    print("previous thread hook ran:", args.exc_type.__name__, file=sys.stderr, flush=True)

sys.excepthook = previous_hook
threading.excepthook = previous_thread_hook
client = Client("phc_test", host=os.environ["INBOX_URL"], flush_interval=60)
capture_uncaught(client{extra})

def work():
    raise KeyError("in a thread")

thread = threading.Thread(target=work)
thread.start()
thread.join()

def main():
    raise RuntimeError("nothing caught this")

main()
"""


def run(inbox: InboxServer, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, "INBOX_URL": inbox.url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_uncaught_exceptions_in_the_main_thread_and_a_thread_arrive(inbox: InboxServer) -> None:
    result = run(inbox, SCRIPT.format(extra=""))
    assert result.returncode == 1, result.stderr
    assert "previous thread hook ran: KeyError" in result.stderr
    assert "previous sys hook ran: RuntimeError" in result.stderr
    assert "RuntimeError: nothing caught this" in result.stderr  # Python's own traceback
    events = inbox.wait_for_events(2, event="$exception")
    by_type = {e["properties"]["$exception_types"][0]: e for e in events}
    main, thread = by_type["RuntimeError"], by_type["KeyError"]
    assert main["properties"]["$exception_level"] == "fatal"
    assert main["properties"]["$exception_source"] == "python.sys_excepthook"
    assert main["properties"]["$exception_handled"] is False
    mechanism = main["properties"]["$exception_list"][0]["mechanism"]
    assert mechanism["type"] == "onuncaughtexception"
    assert main["properties"]["$process_person_profile"] is False
    assert "main" in main["properties"]["$exception_functions"]
    assert thread["properties"]["$exception_level"] == "error"
    assert thread["properties"]["$exception_source"] == "python.threading_excepthook"
    assert "work" in thread["properties"]["$exception_functions"]
    assert all("$cymbal_errors" not in e["properties"] for e in events)


@pytest.mark.slow
def test_a_distinct_id_and_no_thread_hook(inbox: InboxServer) -> None:
    result = run(inbox, SCRIPT.format(extra=', threads=False, distinct_id="worker-7"'))
    assert result.returncode == 1, result.stderr
    assert "previous thread hook ran: KeyError" in result.stderr
    [event] = inbox.wait_for_events(1, event="$exception")
    assert event["distinct_id"] == "worker-7"
    assert "$process_person_profile" not in event["properties"]
    assert len(inbox.events(event="$exception")) == 1


@pytest.mark.slow
def test_system_exit_and_keyboard_interrupt_are_not_errors(inbox: InboxServer) -> None:
    script = """
    import os, sys
    from posthog_web import Client, capture_uncaught
    capture_uncaught(Client("phc_test", host=os.environ["INBOX_URL"], sync_mode=True))
    client = Client("phc_test", host=os.environ["INBOX_URL"], sync_mode=True)
    client.capture("started", distinct_id="u")
    raise KeyboardInterrupt
    """
    without = script.replace("capture_uncaught(Client", "(Client")
    for ending in ("raise KeyboardInterrupt", "sys.exit(3)"):
        hooked = run(inbox, script.replace("raise KeyboardInterrupt", ending))
        plain = run(inbox, without.replace("raise KeyboardInterrupt", ending))
        assert hooked.returncode == plain.returncode != 0
        assert hooked.stderr == plain.stderr
    assert len(inbox.wait_for_events(4, event="started")) == 4
    assert inbox.events(event="$exception") == []


def test_install_and_uninstall_restore_the_previous_hooks(inbox: InboxServer) -> None:
    before_sys, before_thread = sys.excepthook, threading.excepthook
    client = Client("phc_test", host=inbox.url, sync_mode=True)
    try:
        hooks = capture_uncaught(client)
        assert sys.excepthook != before_sys
        assert threading.excepthook != before_thread
        again = capture_uncaught(client)  # replaces, never stacks
        hooks.uninstall()
        again.uninstall()
        assert sys.excepthook == before_sys
        assert threading.excepthook == before_thread
    finally:
        sys.excepthook, threading.excepthook = before_sys, before_thread
        client.shutdown(timeout=2)


def test_capture_uncaught_checks_its_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POSTHOG_API_KEY", raising=False)
    with pytest.raises(ValueError, match="POSTHOG_API_KEY"):
        capture_uncaught()
    with pytest.raises(TypeError, match=r"client must be a posthog_web\.Client"):
        capture_uncaught("phc_x")  # type: ignore[arg-type]
    client = Client("phc_test", disabled=True)
    with pytest.raises(ValueError, match="distinct_id"):
        capture_uncaught(client, distinct_id="null")
