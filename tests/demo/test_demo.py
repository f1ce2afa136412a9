"""scripts/demo.py, run as a person runs it: a subprocess with real servers, bounded in time."""

from __future__ import annotations

import importlib.util
import io
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from posthog_web.inbox import InboxServer

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "scripts" / "demo.py"


def run_demo(*args: str, env: dict[str, str] | None = None, timeout: float = 90) -> Any:
    """Run the demo in its own process group; on timeout, kill the group (its servers too)."""
    process = subprocess.Popen(
        [sys.executable, str(DEMO), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"the demo took over {timeout} s:\n{out}\n{err}")
    return process.returncode, out, err


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("posthog_web_demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_demo_runs_every_journey_and_prints_the_timeline() -> None:
    status, out, err = run_demo()
    assert status == 0, out + err
    # 11 events per app, plus the new-banner flag's $feature_flag_called for the anonymous
    # visitor at the landing page and for the new anonymous id after log out (issue 15).
    assert "All 52 events arrived, attributed as expected" in out
    for app in ("django", "starlette", "fastapi", "flask"):
        assert f"  {app:<10} 13 events  ok" in out
    # One person for the Django user (id "1"), one for "demo" on Starlette, FastAPI, Flask.
    assert "person 1 (identified; email=demo@example.com" in out
    assert "person 2 (identified; email=demo@example.com" in out
    assert "/?utm_source=newsletter&utm_medium=email&utm_campaign=spring_sale" in out
    timeline = Counter(re.findall(r"^    \d\d:\d\d:\d\d\.\d{3}  (\w+) +(\S+) ", out, re.M))
    for app in ("django", "starlette", "fastapi", "flask"):
        assert timeline[app, "$pageview"] == 7
        for event in ("$create_alias", "$identify", "purchase_completed", "$screen"):
            assert timeline[app, event] == 1
        assert timeline[app, "$feature_flag_called"] == 2
    assert "no person: the new anonymous ids after log out" in out
    assert "FAILED" not in err
    # The web analytics summary, read back from the inbox: 7 $pageview and 1 $screen per app.
    summary = re.search(r"^  visitors (\d+)   page views (\d+)   sessions (\d+)", out, re.M)
    assert summary is not None, out
    assert int(summary[2]) == 32
    assert re.search(r"^  UTM sources +newsletter \d", out, re.M)


@pytest.mark.slow
def test_a_server_that_cannot_start_fails_the_demo_cleanly(tmp_path: Path) -> None:
    broken = tmp_path / "uvicorn"
    broken.mkdir()
    (broken / "__init__.py").write_text("")
    (broken / "__main__.py").write_text("raise SystemExit('uvicorn is broken here')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    status, _, err = run_demo("--only", "fastapi", env=env, timeout=60)
    assert status == 1
    assert "demo FAILED: fastapi exited with status 1" in err
    assert "uvicorn is broken here" in err  # the server's own output is shown


@pytest.mark.slow
def test_keep_running_leaves_the_servers_up_until_ctrl_c() -> None:
    command = [sys.executable, str(DEMO), "--keep-running", "--only", "fastapi"]
    options: dict[str, Any] = {"stderr": subprocess.STDOUT, "text": True}
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, start_new_session=True, **options
    ) as process:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()])
        reader.start()
        try:
            while not lines.get(timeout=60).startswith("Still running"):
                pass
            urls = {}
            while "fastapi" not in urls:
                name, url = lines.get(timeout=10).split()[:2]
                urls[name] = url.rstrip("/")
            while not (line := lines.get(timeout=10)).startswith("Look at"):
                pass
            assert line.split()[2] == urls["inbox"] + "/analytics"
            assert requests.get(urls["fastapi"] + "/pricing", timeout=10).status_code == 200
            assert requests.get(urls["inbox"] + "/api/health", timeout=10).json() == {"ok": True}
            process.send_signal(signal.SIGINT)  # Ctrl-C
            assert process.wait(timeout=30) == 0
            with pytest.raises(requests.ConnectionError):
                requests.get(urls["fastapi"] + "/pricing", timeout=5)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            reader.join(timeout=10)


def test_missing_events_are_named() -> None:
    demo = _load_demo()
    app = demo.App("fastapi", "", "")
    anonymous, user = "01a2-anon", "demo"

    def event(name: str, distinct_id: str, **properties: Any) -> dict[str, Any]:
        return {"event": name, "distinct_id": distinct_id, "properties": properties}

    app.events = [
        event(
            "$pageview",
            anonymous,
            **{"$pathname": "/", "utm_source": "newsletter", "$feature/new-banner": "control"},
        ),
        event("$create_alias", user, alias=anonymous),
        event("$identify", user),
        event("purchase_completed", user),
    ]
    journey = demo.examine(app)
    assert journey.anonymous == anonymous
    assert journey.user == user
    assert journey.missing == [
        "the anonymous $pageview of /pricing",
        "$pageview of /dashboard by demo",
        "the $screen 'Products' from the API call by demo",
        "the $pageview of / by a new anonymous id after log out",
    ]
    del app.events[0]["properties"]["$feature/new-banner"]  # the banner flag was not read
    assert demo.examine(app).missing[0] == (
        "$feature/new-banner on the landing $pageview (the banner flag)"
    )
    app.events = []
    assert demo.examine(app).missing == ["the landing $pageview with utm_source=newsletter"]


def test_the_summary_is_the_inbox_api_as_text() -> None:
    demo = _load_demo()
    session = "01a028f7-7c26-7c3a-9f10-4a2b8c7d6e01"
    stamp = "2026-01-01T12:00:00+00:00"

    def page(distinct_id: str, path: str, **more: Any) -> dict[str, Any]:
        properties = {"$current_url": f"http://x{path}", "$session_id": session, **more}
        return {"event": "$pageview", "distinct_id": distinct_id, "timestamp": stamp,
                "properties": properties}  # fmt: skip

    with InboxServer() as inbox:
        body = {"api_key": "phc_demo_summary", "batch": [
            page("a", "/", utm_source="newsletter", **{"$browser": "Firefox"}),
            page("a", "/pricing"),
            page("b", "/pricing"),
        ]}  # fmt: skip
        assert requests.post(inbox.url + "/batch/", json=body, timeout=10).status_code == 200
        out = io.StringIO()
        demo.print_analytics(demo.Inbox(inbox.url), out)
    text = out.getvalue()
    assert "  visitors 2   page views 3   sessions 1   " in text
    assert "  top pages          /pricing 2, / 1\n" in text
    assert "  entry pages        / 1\n" in text
    assert "  UTM sources        newsletter 1\n" in text
    assert "  UTM campaigns      none\n" in text
