"""The hot path's shortcuts give exactly what the plain stdlib calls give."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web import events as ev
from posthog_web.delivery import RequestsTransport
from posthog_web.inbox import InboxServer
from posthog_web.web.posthog_cookie import _unquote

_ESCAPY = st.text(
    alphabet=st.sampled_from(list('%0123456789abcdefABCDEFxz{}":\\ é€=\t\r\n\x00\x0b'))
)


@given(_ESCAPY)
def test_unquote_matches_the_stdlib_on_any_text(text: str) -> None:
    assert _unquote(text) == unquote(text)


@pytest.mark.parametrize(
    "text", ["%", "a%", "a% ", "%4", "%zz", "%3D", "a=%41", "%0A%", "%C3", "%E2%82%AC", "%%41"]
)
def test_unquote_matches_the_stdlib_on_stray_escapes(text: str) -> None:
    assert _unquote(text) == unquote(text)


@given(st.text())
def test_unquote_inverts_percent_encoding(text: str) -> None:
    encoded = quote(text, safe="", errors="surrogatepass")
    assert _unquote(encoded) == unquote(encoded)


def test_uuid7_is_a_version_7_rfc_uuid_with_the_time_given() -> None:
    values = {ev.uuid7_at(1_700_000_000_123) for _ in range(2000)}
    assert len(values) == 2000
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert ev.uuid7_time_ms(value) == 1_700_000_000_123


def test_now_iso_is_utc_with_microseconds_and_follows_the_clock() -> None:
    before = dt.datetime.now(dt.timezone.utc)
    stamps = [ev.now_iso() for _ in range(3)]
    time.sleep(1.01)  # crosses a second: the cached date part must move on
    stamps.append(ev.now_iso())
    after = dt.datetime.now(dt.timezone.utc)
    parsed = [dt.datetime.fromisoformat(s) for s in stamps]
    assert all(
        s.endswith("+00:00") and len(s) == len("2026-01-01T00:00:00.000000+00:00") for s in stamps
    )
    assert before - dt.timedelta(seconds=1) <= parsed[0] <= parsed[-1] <= after
    assert parsed[-1] - parsed[0] >= dt.timedelta(seconds=1)


def test_requests_transport_reads_the_proxy_environment_once_per_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "bypass.example")
    transport = RequestsTransport()
    proxied = transport._settings("https://us.i.posthog.com/batch/")
    assert proxied["proxies"]["https"] == "http://127.0.0.1:3128"
    assert transport._settings("https://bypass.example/batch/")["proxies"].get("https") is None
    monkeypatch.delenv("HTTPS_PROXY")
    assert transport._settings("https://us.i.posthog.com/batch/") is proxied


def test_requests_transport_still_delivers(inbox: InboxServer) -> None:
    transport = RequestsTransport()
    body = b'{"api_key":"phc_test","batch":[{"event":"e","distinct_id":"u1","properties":{}}]}'
    try:
        for _ in range(2):
            answer = transport.send(
                f"{inbox.url}/batch/", body, {"Content-Type": "application/json"}, 5.0
            )
            assert answer.status == 200
    finally:
        transport.close()
    assert len(inbox.wait_for_events(2)) == 2
