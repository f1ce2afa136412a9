"""The client's flag methods against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from posthog_web import Client
from posthog_web.flags.exposure import CalledLog
from posthog_web.flags.model import PropertyFilter
from tests.flags.server import SECRET, TOKEN, FlagsServer

MakeClient = Callable[..., Client]
VARIANTS = {"variants": [{"key": "control", "rollout_percentage": 33},
                         {"key": "test-a", "rollout_percentage": 33},
                         {"key": "test-b", "rollout_percentage": 34}]}  # fmt: skip


def definitions(*flags: dict[str, Any]) -> dict[str, Any]:
    return {"flags": list(flags), "group_type_mapping": {"0": "company"}, "cohorts": {}}


def checkout(**extra: Any) -> dict[str, Any]:
    return {
        "id": 12, "key": "checkout-test", "active": True, "version": 3,
        "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                    "multivariate": VARIANTS, "payloads": {"test-b": '{"color": "blue"}'}},
        **extra,
    }  # fmt: skip


def needs_email() -> dict[str, Any]:
    return {"id": 13, "key": "needs-email", "active": True,
            "filters": {"groups": [{"properties": [
                {"key": "email", "operator": "icontains", "value": "@corp"}]}]}}  # fmt: skip


def called(server: FlagsServer) -> list[dict[str, Any]]:
    with server.lock:
        return [e for e in server.events if e["event"] == "$feature_flag_called"]


def test_local_evaluation_one_fetch_and_one_event(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout())
    client = flags_client()
    for _ in range(3):
        assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert client.feature_enabled("checkout-test", distinct_id="user-42") is True
    assert client.get_feature_flag_payload("checkout-test", distinct_id="user-42") == {
        "color": "blue"
    }
    (fetch,) = flags_server.made("definitions")
    assert fetch["path"] == f"/flags/definitions?token={TOKEN}&send_cohorts"
    assert fetch["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert flags_server.made("flags") == []
    (event,) = called(flags_server)
    assert event["distinct_id"] == "user-42"
    props = event["properties"]
    assert props["$feature_flag"] == "checkout-test"
    assert props["$feature_flag_response"] == "test-b"
    assert props["$feature/checkout-test"] == "test-b"
    assert props["locally_evaluated"] is True
    assert props["$feature_flag_id"] == 12
    assert props["$feature_flag_version"] == 3
    assert props["$feature_flag_payload"] == {"color": "blue"}
    client.get_feature_flag("checkout-test", distinct_id="user-1", send_event=False)
    assert len(called(flags_server)) == 1
    assert SECRET not in json.dumps(flags_server.events)
    assert SECRET not in repr(client) + repr(client.flags) + repr(client.flags.poller)


def test_etag_polls_keep_the_set_and_pick_up_changes(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout())
    client = flags_client(flags_poll_interval=0.05)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    polls = flags_server.wait_for("definitions", 3)
    assert polls[1]["headers"]["If-None-Match"] == flags_server.etag()
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    flags_server.definitions = definitions(checkout(active=False))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if client.get_feature_flag("checkout-test", distinct_id="user-42") is False:
            break
        time.sleep(0.02)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") is False


def test_a_failing_poll_keeps_the_last_good_set(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout())
    client = flags_client(flags_poll_interval=0.05)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    flags_server.status["definitions"] = 500
    count = len(flags_server.made("definitions"))
    flags_server.wait_for("definitions", count + 3)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    assert flags_server.made("flags") == []


def test_401_drops_the_definitions_logs_once_and_goes_remote(
    flags_server: FlagsServer, flags_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "posthog_web")
    flags_server.definitions = definitions(checkout())
    flags_server.remote = {"checkout-test": {"enabled": True, "variant": "control"}}
    client = flags_client(flags_secret_key="phx_wrong", flags_poll_interval=0.05)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "control"
    flags_server.wait_for("definitions", 3)
    assert caplog.text.count("refused the flag definitions (HTTP 401)") == 1
    assert "phx_wrong" not in caplog.text
    (event,) = called(flags_server)
    assert event["properties"]["locally_evaluated"] is False


def test_remote_evaluation_request_and_answer(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.remote = {
        "beta": {"enabled": True, "variant": "test", "reason": {"description": "Matched 1"},
                 "metadata": {"id": 5, "version": 2, "payload": '{"a": 1}'}},
        "other": {"enabled": False},
    }  # fmt: skip
    client = flags_client(flags_secret_key=None)
    value = client.get_feature_flag(
        "beta",
        distinct_id="u1",
        person_properties={"plan": "pro"},
        groups={"company": "acme"},
        group_properties={"company": {"size": 10}},
    )
    assert value == "test"
    (request,) = flags_server.made("flags")
    assert request["path"] == "/flags/?v=2"
    body = request["json"]
    assert body["token"] == TOKEN
    assert body["distinct_id"] == "u1"
    assert body["flag_keys_to_evaluate"] == ["beta"]
    assert body["person_properties"] == {"plan": "pro"}
    assert body["group_properties"] == {"company": {"$group_key": "acme", "size": 10}}
    assert "Authorization" not in request["headers"]
    props = called(flags_server)[0]["properties"]
    assert props["$feature_flag_reason"] == "Matched 1"
    assert props["$feature_flag_request_id"] == "req-1"
    assert props["$groups"] == {"company": "acme"}
    assert client.get_feature_flag_payload("beta", distinct_id="u1") == {"a": 1}
    assert client.get_all_flags(distinct_id="u1") == {"beta": "test", "other": False}
    assert "flag_keys_to_evaluate" not in flags_server.made("flags")[-1]["json"]
    assert client.get_feature_flag("missing", distinct_id="u1") is None
    assert client.feature_enabled("missing", distinct_id="u1") is False


def test_get_all_flags_local_first_then_one_call_for_the_rest(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout(), needs_email())
    flags_server.remote = {"needs-email": {"enabled": True}, "checkout-test": {"enabled": False}}
    client = flags_client()
    local = client.get_all_flags(distinct_id="user-42", only_evaluate_locally=True)
    assert local == {"checkout-test": "test-b"}
    assert flags_server.made("flags") == []
    both = client.get_all_flags_and_payloads(distinct_id="user-42")
    assert both == {
        "featureFlags": {"checkout-test": "test-b", "needs-email": True},
        "featureFlagPayloads": {"checkout-test": '{"color": "blue"}'},
    }
    (request,) = flags_server.made("flags")
    assert request["json"]["flag_keys_to_evaluate"] == ["needs-email"]
    assert called(flags_server) == []  # bulk getters send no event


def test_quota_limited_and_errors_while_computing(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.remote = {"beta": {"enabled": True}, "broken": {"failed": True}}
    client = flags_client(flags_secret_key=None)
    flags_server.quota = True
    assert client.get_feature_flag("beta", distinct_id="q") is None
    assert client.get_all_flags(distinct_id="q") == {}
    assert called(flags_server)[0]["properties"]["$feature_flag_error"] == "quota_limited"
    flags_server.quota = False
    flags_server.errors = True
    assert client.get_feature_flag("beta", distinct_id="e") is True
    assert client.get_feature_flag("broken", distinct_id="e") is None
    errors = {e["properties"]["$feature_flag"]: e["properties"]["$feature_flag_error"]
              for e in called(flags_server)[1:]}  # fmt: skip
    assert errors == {
        "beta": "errors_while_computing_flags",
        "broken": "errors_while_computing_flags,evaluation_failed",
    }


def test_hanging_server_is_bounded_then_the_breaker_answers_at_once(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.remote = {"beta": {"enabled": True}}
    flags_server.delay["flags"] = 5.0
    client = flags_client(flags_secret_key=None, flags_timeout=0.3)
    for _ in range(2):
        started = time.monotonic()
        assert client.get_feature_flag("beta", distinct_id="h", send_event=False) is None
        assert time.monotonic() - started < 2.5  # the 5 s hang is never waited for
    assert len(flags_server.wait_for("flags", 2)) == 2
    for _ in range(5):
        assert client.get_feature_flag("beta", distinct_id="h", send_event=False) is None
    assert len(flags_server.made("flags")) == 2  # breaker open: no request at all


def test_hanging_definitions_never_delay_a_call(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout())
    flags_server.remote = {"checkout-test": {"enabled": True, "variant": "control"}}
    flags_server.delay["definitions"] = 5.0
    client = flags_client(flags_timeout=0.6)
    started = time.monotonic()
    # Half the budget waits for the first load, the rest goes to /flags.
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "control"
    assert time.monotonic() - started < 2.5
    # That wait expired, so later calls do not wait again while the load hangs.
    assert client.get_feature_flag("checkout-test", distinct_id="user-7") == "control"
    assert len(flags_server.made("flags")) == 2
    assert len(flags_server.made("definitions")) == 1


def test_refused_connection_answers_none() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(TOKEN, host=f"http://127.0.0.1:{port}", flags_timeout=1.0, disabled=False)
    try:
        assert client.get_feature_flag("beta", distinct_id="r", send_event=False) is None
        assert client.get_all_flags(distinct_id="r") == {}
    finally:
        client.shutdown(timeout=0.5)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"key": 5}, TypeError, "key"),
        ({"key": ""}, ValueError, "key"),
        ({"distinct_id": None}, TypeError, "distinct_id"),
        ({"person_properties": [1]}, TypeError, "person_properties"),
        ({"groups": {"company": 1.5}}, TypeError, "groups['company']"),
        ({"group_properties": {"company": 3}}, TypeError, "group_properties['company']"),
        ({"only_evaluate_locally": "yes"}, TypeError, "only_evaluate_locally"),
        ({"send_event": 1}, TypeError, "send_event"),
    ],
)
def test_bad_arguments_name_the_field_before_any_io(
    flags_server: FlagsServer, flags_client: MakeClient, kwargs: dict[str, Any],
    error: type[Exception], field: str,
) -> None:  # fmt: skip
    client = flags_client(flags_secret_key=None)
    call: dict[str, Any] = {"key": "beta", "distinct_id": "u", **kwargs}
    with pytest.raises(error, match=field.replace("[", r"\[")):
        client.get_feature_flag(call.pop("key"), **call)
    assert flags_server.requests == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"flags_secret_key": "phc_abc"}, "project API key"),
        ({"flags_secret_key": ""}, "empty"),
        ({"flags_secret_key": 5}, "flags_secret_key must be a str"),
        ({"flags_timeout": 0}, "flags_timeout"),
        ({"flags_poll_interval": -1}, "flags_poll_interval"),
    ],
)
def test_bad_flag_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        Client(TOKEN, host="http://127.0.0.1:9", **options)


def test_the_called_log_is_bounded_and_keys_on_value_and_groups() -> None:
    log = CalledLog(capacity=2)
    assert log.first_time("a", "f", True, {})
    assert not log.first_time("a", "f", True, {})
    assert log.first_time("a", "f", "v", {})
    assert log.first_time("a", "f", True, {"company": "x"})
    assert log.first_time("b", "f", True, {})
    assert log.first_time("c", "f", True, {})  # evicts "a"
    assert log.first_time("a", "f", True, {})


@pytest.mark.parametrize("status", [403, 402])
def test_a_refusal_after_a_good_load_drops_the_set(
    flags_server: FlagsServer, flags_client: MakeClient, status: int
) -> None:
    flags_server.definitions = definitions(checkout())
    flags_server.remote = {"checkout-test": {"enabled": True, "variant": "control"}}
    client = flags_client(flags_poll_interval=0.05)
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "test-b"
    flags_server.status["definitions"] = status
    deadline = time.monotonic() + 5
    while client.flags.definitions() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert client.flags.definitions() is None
    assert client.get_feature_flag("checkout-test", distinct_id="user-42") == "control"


def test_a_bug_in_local_evaluation_goes_to_the_server(
    flags_server: FlagsServer, flags_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    flags_server.remote = {"checkout-test": {"enabled": True, "variant": "control"}}
    client = flags_client()
    client.flags.set_definitions(definitions(checkout()))
    defs = client.flags.definitions()
    assert defs is not None
    flag = defs.by_key["checkout-test"]

    def broken(props: Any) -> bool:
        raise RuntimeError("boom")

    # A stand-in for an engine bug: a condition whose matcher raises.
    condition = flag.conditions[0]
    bad = type(condition)((PropertyFilter(broken),), condition.threshold, None)
    object.__setattr__(flag, "conditions", (bad,))
    assert client.get_feature_flag("checkout-test", distinct_id="u", send_event=False) == "control"
    assert client.get_all_flags(distinct_id="u") == {"checkout-test": "control"}
    assert "local evaluation failed (RuntimeError: boom)" in caplog.text


def test_the_breaker_probes_after_its_backoff_and_closes(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.remote = {"beta": {"enabled": True}}
    flags_server.status["flags"] = 503
    client = flags_client(flags_secret_key=None)
    for _ in range(3):
        assert client.get_feature_flag("beta", distinct_id="b", send_event=False) is None
    assert len(flags_server.made("flags")) == 2  # open after two failures
    del flags_server.status["flags"]
    time.sleep(1.1)  # the first back-off is 1 s
    assert client.get_feature_flag("beta", distinct_id="b", send_event=False) is True
    assert client.get_feature_flag("beta", distinct_id="c", send_event=False) is True
    assert len(flags_server.made("flags")) == 4


def test_anon_and_device_ids_reach_flags(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.remote = {"beta": {"enabled": True}}
    client = flags_client(flags_secret_key=None)
    result = client.flags.evaluate("beta", "user-1", anon_distinct_id="anon-9", device_id="dev-1")
    assert result.value is True
    body = flags_server.made("flags")[0]["json"]
    assert (body["$anon_distinct_id"], body["$device_id"]) == ("anon-9", "dev-1")
