"""The pytest plugin, run the way a user's suite runs it: in a pytest subprocess."""

from __future__ import annotations

import pytest

from posthog_web import Client
from posthog_web.delivery import recorder as recording
from posthog_web.inbox import InboxServer

pytestmark = pytest.mark.slow

USER_TESTS = """
import posthog_web

def test_records_instead_of_sending(posthog_events):
    client = posthog_web.Client("phc_user", host="https://eu.i.posthog.com")
    client.capture("purchase_completed", distinct_id="u1", properties={"amount": 3})
    client.page(distinct_id="u2", name="Home", url="https://shop.example.com/")
    assert [e["event"] for e in posthog_events.pageviews] == ["$pageview"]
    assert posthog_events.named("purchase_completed")[0]["properties"]["amount"] == 3
    assert len(posthog_events.for_person("u2")) == 1
    assert client.stats()["queued"] == 0

def test_without_the_fixture_nothing_leaves_the_machine(caplog):
    client = posthog_web.Client("phc_user", host="https://eu.i.posthog.com")
    assert client.capture("x", distinct_id="u1") is None
    assert client.stats()["queued"] == 0
    assert "not sent" in caplog.text
"""


def test_plugin_records_and_blocks_remote_hosts(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:django")
    result.assert_outcomes(passed=2)


def test_ini_option_allows_the_network(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nposthog_web_allow_network = true\n")
    pytester.makepyfile(
        test_allowed="""
        import posthog_web
        def test_allowed():
            client = posthog_web.Client("phc_user", host="https://127.0.0.2:9", disabled=True)
            assert not posthog_web.delivery.recorder.remote_blocked()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:django")
    result.assert_outcomes(passed=1)


def test_loopback_hosts_are_never_blocked(inbox: InboxServer) -> None:
    assert recording.remote_blocked()
    client = Client("phc_test", host=inbox.url, sync_mode=True)
    assert client.capture("local", distinct_id="u1") == 200
    assert [e["event"] for e in inbox.events()] == ["local"]
    client.shutdown(timeout=5)


def test_env_var_lifts_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(recording.ALLOW_NETWORK_ENV, "1")
    assert not recording.remote_blocked()


def test_recorder_in_sync_mode_and_enqueue(posthog_events: recording.Recorder) -> None:
    from posthog_web.events import new_event

    client = Client("phc_test", host="http://127.0.0.1:9", sync_mode=True)
    assert client.capture("a", distinct_id="u1") == 200
    assert client.enqueue(new_event("b", "u1", {})) == 200
    background = Client("phc_test", host="http://127.0.0.1:9")
    assert background.enqueue(new_event("c", "u1", {})) is None
    assert [e["event"] for e in posthog_events] == ["a", "b", "c"]
    assert len(posthog_events) == 3
    assert "3 events" in repr(posthog_events)
    posthog_events.clear()
    assert posthog_events.events == []
