"""The inbox's feature flags: a flags file, the definitions endpoint, /flags, /api/flags,
against real clients (local and remote evaluation) and posthog-js's request shape."""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from posthog_web import Client
from posthog_web.inbox import InboxServer
from posthog_web.inbox.__main__ import main
from posthog_web.inbox.flags import DEFAULT_SECRET_KEY
from posthog_web.inbox.flags_file import FlagsFileError
from tests.inbox.helpers import TOKEN, wait_until
from tests.inbox.test_cli import _Inbox

FLAGS: dict[str, Any] = {
    "new-checkout": {
        "variants": {"control": 50, "test": 50},
        "payloads": {"test": {"color": "blue"}, "control": {"color": "grey"}},
    },
    "pro-banner": {"properties": [{"key": "plan", "value": "pro"}]},
    "half": {"rollout": 50},
    "old-nav": False,
}
DEFINITIONS = "/api/feature_flag/local_evaluation/?token=" + TOKEN + "&send_cohorts"
BEARER = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    path.write_text(json.dumps(FLAGS), encoding="utf-8")
    return path


@pytest.fixture
def flags_inbox(flags_file: Path) -> Iterator[InboxServer]:
    server = InboxServer(flags=flags_file).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clients() -> Iterator[list[Client]]:
    made: list[Client] = []
    yield made
    for client in made:
        client.shutdown(timeout=1.0)


def _client(inbox: InboxServer, made: list[Client], **options: Any) -> Client:
    client = Client(TOKEN, host=inbox.url, sync_mode=True, flags_timeout=2.0, **options)
    made.append(client)
    return client


def _post_flags(inbox: InboxServer, body: dict[str, Any], **kwargs: Any) -> requests.Response:
    return requests.post(inbox.url + "/flags/?v=2", json=body, timeout=5, **kwargs)


def test_local_and_remote_clients_agree_with_the_inbox(
    flags_inbox: InboxServer, clients: list[Client]
) -> None:
    local = _client(flags_inbox, clients, flags_secret_key=DEFAULT_SECRET_KEY)
    remote = _client(flags_inbox, clients)
    assert local.flags.definitions(wait=5) is not None

    ids = [f"user-{n}" for n in range(40)]
    for distinct_id in ids:
        local_result = local.flags.evaluate("new-checkout", distinct_id)
        remote_result = remote.flags.evaluate("new-checkout", distinct_id)
        assert local_result.locally_evaluated
        assert not remote_result.locally_evaluated
        assert local_result.value == remote_result.value
        assert local_result.value in ("control", "test")
        assert local_result.payload == {"color": "blue" if local_result.value == "test" else "grey"}
        assert remote_result.payload == local_result.payload
    seen = {local.get_feature_flag("new-checkout", distinct_id=d) for d in ids}
    assert seen == {"control", "test"}  # 40 ids do not all land in one half
    halves = {local.get_feature_flag("half", distinct_id=d, send_event=False) for d in ids}
    assert halves == {True, False}

    pro = {"plan": "pro"}
    assert local.feature_enabled("pro-banner", distinct_id="u", person_properties=pro)
    assert remote.feature_enabled("pro-banner", distinct_id="u", person_properties=pro)
    assert not remote.feature_enabled(
        "pro-banner", distinct_id="u", person_properties={"plan": "free"}
    )
    assert local.get_feature_flag("old-nav", distinct_id="u") is False
    assert remote.get_all_flags(distinct_id="user-1") == local.get_all_flags(distinct_id="user-1")

    # The $feature_flag_called events went to the inbox, which counts them per value.
    summary = requests.get(flags_inbox.url + "/api/flags", timeout=5).json()
    by_key = {flag["key"]: flag for flag in summary["flags"]}
    checkout = by_key["new-checkout"]
    assert checkout["defined"]
    assert checkout["persons"] == 40
    assert checkout["exposures"] == 40
    assert sum(checkout["by_value"].values()) == 40
    assert set(checkout["by_value"]) == {"control", "test"}
    assert checkout["definition"]["filters"]["multivariate"]["variants"][0]["key"] == "control"
    assert by_key["half"]["exposures"] == 0  # send_event=False
    assert flags_inbox.flags_summary()["flags"] == summary["flags"]


def test_definitions_need_the_secret_key_and_answer_304_when_unchanged(
    flags_inbox: InboxServer, flags_file: Path
) -> None:
    url = flags_inbox.url + DEFINITIONS
    assert requests.get(url, timeout=5).status_code == 401
    wrong = requests.get(url, headers={"Authorization": "Bearer phx_wrong"}, timeout=5)
    assert wrong.status_code == 403
    assert "detail" in wrong.json()

    first = requests.get(url, headers=BEARER, timeout=5)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert [flag["key"] for flag in first.json()["flags"]] == list(FLAGS)
    again = requests.get(url, headers={**BEARER, "If-None-Match": etag}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    same = requests.get(flags_inbox.url + "/flags/definitions?token=x", headers=BEARER, timeout=5)
    assert same.headers["ETag"] == etag

    # The file changes: the next request reloads it (new ETag, new flags).
    flags_file.write_text(json.dumps({"only": True}), encoding="utf-8")
    os.utime(flags_file, ns=(1, 1))
    changed = requests.get(url, headers={**BEARER, "If-None-Match": etag}, timeout=5)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert [flag["key"] for flag in changed.json()["flags"]] == ["only"]

    # A broken edit keeps the last good set and says why on /api/flags.
    flags_file.write_text("{not json", encoding="utf-8")
    os.utime(flags_file, ns=(2, 2))
    kept = requests.get(url, headers=BEARER, timeout=5)
    assert kept.headers["ETag"] == changed.headers["ETag"]
    error = requests.get(flags_inbox.url + "/api/flags", timeout=5).json()["error"]
    assert "not valid JSON" in error
    assert str(flags_file) in error


def test_a_custom_secret_key(flags_file: Path) -> None:
    with InboxServer(flags=flags_file, flags_secret_key="phs_mine") as inbox:
        url = inbox.url + DEFINITIONS
        assert requests.get(url, headers=BEARER, timeout=5).status_code == 403
        mine = requests.get(url, headers={"Authorization": "Bearer phs_mine"}, timeout=5)
        assert mine.status_code == 200


def test_a_raw_local_evaluation_answer_is_served_as_it_is(clients: list[Client]) -> None:
    raw = {
        "flags": [
            {
                "id": 7,
                "key": "group-flag",
                "active": True,
                "filters": {
                    "aggregation_group_type_index": 0,
                    "groups": [{"properties": [], "rollout_percentage": 100}],
                },
            }
        ],
        "group_type_mapping": {"0": "company"},
        "cohorts": {},
    }
    with InboxServer(flags=raw) as inbox:
        body = requests.get(inbox.url + DEFINITIONS, headers=BEARER, timeout=5).json()
        assert body == raw
        client = _client(inbox, clients, flags_secret_key=DEFAULT_SECRET_KEY)
        groups = {"company": "acme"}
        assert client.get_feature_flag("group-flag", distinct_id="u", groups=groups) is True
        answer = _post_flags(inbox, {"distinct_id": "u", "groups": groups}).json()
        assert answer["flags"]["group-flag"]["enabled"] is True
        assert answer["flags"]["group-flag"]["metadata"]["id"] == 7


def test_posthog_js_request_is_answered_in_its_shape(flags_inbox: InboxServer) -> None:
    # Recorded from posthog-js 1.449.2 in Chromium (tests/browser/test_inbox_flags.py), the
    # 27 null $initial_* campaign properties left out, plan added. It sends the JSON
    # gzipped, as text/plain, with no compression hint.
    body = {
        "token": TOKEN,
        "distinct_id": "01a23557-7679-79d7-8f68-8143f7b5f586",
        "groups": {},
        "person_properties": {
            "$initial_referrer": "$direct",
            "$initial_referring_domain": "$direct",
            "$initial_current_url": "http://127.0.0.1:39089/index.html",
            "$initial_host": "127.0.0.1:39089",
            "$initial_pathname": "/index.html",
            "$initial_utm_source": None,
            "$lib": "web",
            "$lib_version": "1.449.2",
            "plan": "pro",
        },
        "timezone": "UTC",
        "$device_id": "01a23557-7679-79d7-8f68-8143f7b5f586",
        "sent_at": "2026-12-02T06:00:54.284Z",
    }
    config = requests.get(flags_inbox.url + f"/array/{TOKEN}/config", timeout=5).json()
    assert config["hasFeatureFlags"] is True  # else posthog-js never asks /flags
    origin = {"Origin": "http://localhost:8000"}
    preflight = requests.options(
        flags_inbox.url + "/flags/?v=2",
        headers={**origin, "Access-Control-Request-Headers": "content-type"},
        timeout=5,
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]

    plain = requests.post(
        flags_inbox.url + "/flags/?v=2",
        data=gzip.compress(json.dumps(body).encode()),
        headers={**origin, "Content-Type": "text/plain"},
        timeout=5,
    )
    encoded = base64.b64encode(json.dumps(body).encode()).decode()
    form = requests.post(
        flags_inbox.url + "/flags/?v=2&compression=base64",
        data={"data": encoded},
        headers=origin,
        timeout=5,
    )
    assert plain.headers["Access-Control-Allow-Origin"] == "http://localhost:8000"
    assert plain.headers["Access-Control-Allow-Credentials"] == "true"
    answer = plain.json()
    assert {k: v for k, v in form.json().items() if k not in ("requestId", "evaluatedAt")} == {
        k: v for k, v in answer.items() if k not in ("requestId", "evaluatedAt")
    }
    record = answer["flags"]["new-checkout"]
    assert record["key"] == "new-checkout"
    assert record["enabled"] is True
    assert record["variant"] in ("control", "test")
    assert record["reason"]["code"] == "condition_match"
    assert record["metadata"]["id"] == 1
    assert record["metadata"]["version"] == 1
    assert record["metadata"]["payload"] == {
        "color": "blue" if record["variant"] == "test" else "grey"
    }
    assert answer["flags"]["pro-banner"]["enabled"] is True
    assert answer["flags"]["old-nav"] == {
        "key": "old-nav",
        "enabled": False,
        "variant": None,
        "reason": {
            "code": "flag_disabled",
            "condition_index": None,
            "description": "Feature flag is disabled",
        },
        "metadata": {"id": 4, "version": 1, "payload": None, "description": None},
    }
    assert answer["featureFlags"]["new-checkout"] == record["variant"]
    assert answer["featureFlags"]["old-nav"] is False
    assert answer["featureFlagPayloads"] == {"new-checkout": record["metadata"]["payload"]}
    assert answer["errorsWhileComputingFlags"] is False
    assert isinstance(answer["requestId"], str)
    assert isinstance(answer["evaluatedAt"], int)

    # flag_keys limits the answer; disable_flags empties it; a missing property is a no.
    only = _post_flags(flags_inbox, {**body, "flag_keys": ["half"]}).json()
    assert list(only["flags"]) == ["half"]
    assert _post_flags(flags_inbox, {**body, "disable_flags": True}).json()["flags"] == {}
    anonymous = _post_flags(flags_inbox, {"token": TOKEN, "distinct_id": "x"}).json()
    assert anonymous["flags"]["pro-banner"]["enabled"] is False
    assert anonymous["flags"]["pro-banner"]["reason"]["description"].startswith("Undecided")
    assert requests.get(flags_inbox.url + "/decide/?v=3", timeout=5).json()["featureFlags"] == {}


BAD_FILES: list[tuple[str, str]] = [
    ("{", "not valid JSON"),
    ("3", "must be a list or an object of flags"),
    ('{"a": {"rollout": 120}}', "flags['a'].rollout: must be a number from 0 to 100"),
    (
        '{"a": {"variants": {"x": 40, "y": 40}}}',
        "flags['a'].variants: the percentages must add up to 100",
    ),
    ('{"a": {"colour": "red"}}', "flags['a'].colour: unknown field"),
    ('{"a": {"active": "yes"}}', "flags['a'].active: must be true or false"),
    ('[{"active": true}]', "flags[0].key: a non-empty string is required"),
    ('[{"key": "a"}, {"key": "a"}]', "flags[1].key: 'a' is defined twice"),
    ('{"a": {"payloads": {"blue": 1}}}', "flags['a'].payloads['blue']: not a value of the flag"),
    (
        '{"a": {"properties": [{"key": "p", "operator": "nope", "value": 1}]}}',
        "flags['a'].properties[0].operator: unknown operator 'nope'",
    ),
    (
        '{"a": {"properties": [{"key": "p", "operator": "regex", "value": "("}]}}',
        "flags['a'].properties[0].value: not a valid regex",
    ),
    ('{"a": {"properties": [{"key": "p"}]}}', "flags['a'].properties[0].value: required"),
    (
        '{"a": {"conditions": [{"variant": "z"}], "variants": {"x": 100}}}',
        "flags['a'].conditions[0].variant: 'z' is not one of the flag's variants",
    ),
    ('{"flags": [{"key": "a", "filters": []}]}', "flags[0] ('a'): filters must be an object"),
    ('{"flags": [{"filters": {}}]}', "flags[0].key: a non-empty string is required"),
    ('{"flags": {}, "cohorts": {}}', "the definitions are not an object with a list of flags"),
    ('{"flags": 3, "cohorts": {}}', "the definitions are not an object with a list of flags"),
]


@pytest.mark.parametrize(("text", "message"), BAD_FILES)
def test_a_bad_flags_file_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "flags.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FlagsFileError, match=None) as raised:
        InboxServer(flags=path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{path}: ")

    assert main(["--port", "0", "--db", ":memory:", "--flags", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("posthog-web inbox: ")


def test_the_command_exits_2_on_a_bad_flags_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    path.write_text('{"a": {"rollout": -1}}', encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "posthog_web", "inbox", "--port", "0", "--flags", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "flags['a'].rollout: must be a number from 0 to 100, not -1" in done.stderr
    assert not (tmp_path / "posthog-inbox.db").exists()  # refused before opening the database


def test_an_inbox_without_flags_serves_none(inbox: InboxServer) -> None:
    answer = _post_flags(inbox, {"token": TOKEN, "distinct_id": "u"}).json()
    assert answer["flags"] == {}
    assert answer["featureFlags"] == {}
    assert requests.get(inbox.url + "/api/flags", timeout=5).json()["flags"] == []
    config = requests.get(inbox.url + f"/array/{TOKEN}/config", timeout=5).json()
    assert config["hasFeatureFlags"] is False
    with pytest.raises(ValueError, match="flags_secret_key"):
        InboxServer(flags_secret_key="")


def test_the_command_serves_a_flags_file(tmp_path: Path, flags_file: Path) -> None:
    inbox = _Inbox("--port", "0", "--db", ":memory:", "--flags", str(flags_file), cwd=tmp_path)
    url = inbox.line()
    inbox.line()  # the host hint
    assert inbox.line() == (
        f"posthog-web inbox: 4 feature flags from {flags_file} (reloaded when it changes); "
        f"local evaluation: flags_secret_key={DEFAULT_SECRET_KEY}"
    )
    answer = requests.get(url + DEFINITIONS, headers=BEARER, timeout=5)
    assert [flag["key"] for flag in answer.json()["flags"]] == list(FLAGS)
    code, stderr = inbox.finish(signal.SIGTERM)
    assert code == 0, stderr


def test_a_polling_client_keeps_its_set_on_304_and_picks_up_an_edit(
    flags_inbox: InboxServer, flags_file: Path, clients: list[Client]
) -> None:
    client = _client(
        flags_inbox, clients, flags_secret_key=DEFAULT_SECRET_KEY, flags_poll_interval=0.02
    )
    first = client.flags.definitions(wait=5)
    assert first is not None
    poller = client.flags.poller
    assert poller is not None
    polls = poller.polls
    wait_until(lambda: poller.polls >= polls + 3)
    assert client.flags.definitions() is first  # every later poll was a 304

    flags_file.write_text(json.dumps({**FLAGS, "fresh": "on"}), encoding="utf-8")
    wait_until(lambda: "fresh" in (client.flags.definitions() or first).by_key)
    assert client.get_feature_flag("fresh", distinct_id="u", only_evaluate_locally=True) == "on"


def test_a_client_with_a_wrong_key_falls_back_to_the_inbox_flags(
    flags_inbox: InboxServer, clients: list[Client]
) -> None:
    client = _client(flags_inbox, clients, flags_secret_key="phx_wrong_key")
    result = client.flags.evaluate("new-checkout", "user-1")
    assert client.flags.definitions() is None  # 403: dropped, logged once
    assert not result.locally_evaluated
    reference = _post_flags(flags_inbox, {"distinct_id": "user-1"}).json()
    assert result.value == reference["featureFlags"]["new-checkout"]


def test_the_flags_view_shows_definitions_and_exposures_per_value(
    flags_inbox: InboxServer, clients: list[Client]
) -> None:
    local = _client(flags_inbox, clients, flags_secret_key=DEFAULT_SECRET_KEY)
    assert local.flags.definitions(wait=5) is not None
    seen: dict[str, int] = {}
    for n in range(12):
        value = local.get_feature_flag("new-checkout", distinct_id=f"user-{n}")
        seen[str(value)] = seen.get(str(value), 0) + 1
    local.feature_enabled("old-nav", distinct_id="user-0")
    # An exposure of a flag the file does not define, with a key that is hostile HTML.
    local.capture(
        "$feature_flag_called",
        distinct_id="user-0",
        properties={"$feature_flag": "<script>alert(1)</script>", "$feature_flag_response": True},
    )
    wait_until(lambda: len(flags_inbox.events("$feature_flag_called")) == 14)
    found = requests.get(flags_inbox.url + "/api/view/flags", timeout=5).json()
    by_key = {flag["key"]: flag for flag in found["flags"]}
    assert by_key["new-checkout"]["by_value"] == seen
    assert by_key["new-checkout"]["exposures"] == 12
    assert by_key["new-checkout"]["persons"] == 12
    assert by_key["old-nav"]["by_value"] == {"false": 1}
    assert by_key["half"]["exposures"] == 0
    assert by_key["<script>alert(1)</script>"]["defined"] is False
    page = requests.get(flags_inbox.url + "/feature_flags", timeout=5)
    assert page.status_code == 200
    assert "new-checkout" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
