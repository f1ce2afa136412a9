"""One visitor's journey, the same for every adapter: anonymous, log in, attributed, log out.

Each example app (Django under uvicorn, Starlette under uvicorn, Flask under gunicorn)
runs as a real server against a real inbox, and the scripted visitor of scripts/demo.py
walks it over HTTP: a newsletter link, pricing, a product, log in, a purchase, an API
call recording a ``$screen``, log out. The same checks then run on what the inbox got.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

DEMO = Path(__file__).parents[1] / "scripts" / "demo.py"


@pytest.fixture(scope="module")
def demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("posthog_web_demo_journeys", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def running(demo: ModuleType, request: pytest.FixtureRequest) -> Iterator[tuple[object, str]]:
    (app,) = [a for a in demo.make_apps() if a.name == request.param]
    with tempfile.TemporaryDirectory(prefix="posthog-web-journey-") as tmp:
        try:
            inbox_url = demo.start([app], Path(tmp))
            yield app, inbox_url
        finally:
            demo.stop_all()


@pytest.mark.parametrize("running", ["django", "starlette", "flask"], indirect=True)
def test_anonymous_login_attributed_logout(
    demo: ModuleType, running: tuple[object, str], capsys: pytest.CaptureFixture[str]
) -> None:
    app, inbox_url = running
    inbox = demo.Inbox(inbox_url)
    journeys = demo.collect([app], inbox, timeout=15)
    journey = journeys[app.name]  # type: ignore[attr-defined]
    assert journey.missing == [], capsys.readouterr().out
    assert journey.anonymous not in (None, journey.user, journey.after_logout)
    # The anonymous visitor and the user are one person; the id after log out is no one's.
    assert demo.print_timeline([app], journeys, inbox) == []
    persons = inbox.persons()
    merged = [p for p in persons if {journey.anonymous, journey.user} <= set(p["distinct_ids"])]
    assert len(merged) == 1
    assert merged[0]["properties"]["email"] == "demo@example.com"
    assert all(journey.after_logout not in p["distinct_ids"] for p in persons)
    events = app.events  # type: ignore[attr-defined]
    before = [e for e in events if e["distinct_id"] == journey.anonymous]
    # The home page reads the new-banner flag (issue 15): its $feature_flag_called too.
    assert {e["event"] for e in before} == {"$pageview", "$feature_flag_called"}
    assert all(e["properties"]["$process_person_profile"] is False for e in before)
