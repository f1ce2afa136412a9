"""Feature flags per request (web/flags.py): the helper, its cache, its events, bootstrap.

Against the flags stand-in on 127.0.0.1: what it received (definitions fetches, /flags
calls and the events in /batch/) is what is checked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.delivery import RecorderTransport
from posthog_web.web import RequestView, ResponseView
from posthog_web.web.background import detached_helper
from posthog_web.web.helper import NoopHelper, RequestHelper
from posthog_web.web.snippet import posthog_snippet
from posthog_web.web.tracker import Tracker, TrackerOptions
from tests.flags.server import SECRET, TOKEN, FlagsServer

HTML = ResponseView(200, "text/html")
VARIANTS = {"variants": [{"key": "control", "rollout_percentage": 33},
                         {"key": "test-a", "rollout_percentage": 33},
                         {"key": "test-b", "rollout_percentage": 34}]}  # fmt: skip
CHECKOUT = {
    "id": 12, "key": "checkout-test", "active": True, "version": 3,
    "filters": {"groups": [{"properties": [], "rollout_percentage": 100}],
                "multivariate": VARIANTS,
                "payloads": {"control": '{"color": "grey"}', "test-a": '{"color": "red"}',
                             "test-b": '{"color": "blue"}'}},
}  # fmt: skip
NEEDS_EMAIL = {"id": 13, "key": "corp-only", "active": True,
               "filters": {"groups": [{"properties": [
                   {"key": "email", "operator": "icontains", "value": "@corp"}]}]}}  # fmt: skip
CONTINUITY = {"id": 14, "key": "sticky", "active": True, "ensure_experience_continuity": True,
              "filters": {"groups": [{"properties": [], "rollout_percentage": 100}]}}  # fmt: skip
OFF = {"id": 15, "key": "dark-mode", "active": True,
       "filters": {"groups": [{"properties": [], "rollout_percentage": 0}]}}  # fmt: skip

MakeTracker = Callable[..., Tracker]


def request(cookies: dict[str, str] | None = None, **headers: str) -> RequestView:
    return RequestView(
        method="GET",
        scheme="https",
        host="shop.example.com",
        path="/checkout",
        query_string="",
        headers={"user-agent": "Mozilla/5.0", "accept": "text/html", **headers},
        cookies=cookies or {},
        client_ip="203.0.113.7",
    )


@pytest.fixture
def server() -> Iterator[FlagsServer]:
    server = FlagsServer().start()
    server.definitions = {
        "flags": [CHECKOUT, NEEDS_EMAIL, CONTINUITY, OFF],
        "group_type_mapping": {},
        "cohorts": {},
    }
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make(server: FlagsServer) -> Iterator[MakeTracker]:
    clients: list[Client] = []

    def make(**options: Any) -> Tracker:
        options.setdefault("flags_secret_key", SECRET)
        options.setdefault("flags_timeout", 1.0)
        client = Client(TOKEN, host=server.url, sync_mode=True, **options)
        clients.append(client)
        client.flags.definitions(wait=5)
        return Tracker(client, TrackerOptions(cookie_secret="s"))

    yield make
    for client in clients:
        client.shutdown(timeout=1.0)


def events(server: FlagsServer, name: str | None = None) -> list[dict[str, Any]]:
    with server.lock:
        return [e for e in server.events if name is None or e["event"] == name]


def test_a_read_is_the_clients_value_once_per_request_and_reported_once(
    server: FlagsServer, make: MakeTracker
) -> None:
    tracker = make()
    ctx = tracker.start(request())
    helper = ctx.helper
    helper.capture("before_any_flag")
    value = helper.get_feature_flag("checkout-test")
    assert value in ("control", "test-a", "test-b")
    assert helper.get_feature_flag("checkout-test") == value
    assert helper.feature_enabled("checkout-test") is True
    assert helper.get_feature_flag_payload("checkout-test") == {
        "color": {"control": "grey", "test-a": "red", "test-b": "blue"}[value]
    }
    # The same visitor, outside the request: the same value.
    assert (
        tracker.client.get_feature_flag(
            "checkout-test", distinct_id=helper.distinct_id, send_event=False
        )
        == value
    )
    helper.capture("after_the_flag")
    tracker.finish(ctx, HTML)
    assert len(server.made("definitions")) == 1
    assert server.made("flags") == []
    (called,) = events(server, "$feature_flag_called")
    assert called["distinct_id"] == helper.distinct_id
    assert called["properties"]["$feature_flag_response"] == value
    assert called["properties"]["locally_evaluated"] is True
    assert called["properties"]["$session_id"] == helper.session_id  # the request's context
    (before,) = events(server, "before_any_flag")
    assert not any(k.startswith("$feature/") for k in before["properties"])
    assert "$active_feature_flags" not in before["properties"]
    for name in ("after_the_flag", "$pageview"):
        (event,) = events(server, name)
        assert event["properties"]["$feature/checkout-test"] == value
        assert event["properties"]["$active_feature_flags"] == ["checkout-test"]
    # Another request by the same visitor: $feature_flag_called is not sent again.
    cookie = {c.name: c.value for c in tracker.response_cookies(ctx)}
    again = tracker.start(request(cookies=cookie))
    assert again.helper.distinct_id == helper.distinct_id
    assert again.helper.get_feature_flag("checkout-test") == value
    assert len(events(server, "$feature_flag_called")) == 1


def test_remote_flags_cost_one_call_per_flag_per_request(
    server: FlagsServer, make: MakeTracker
) -> None:
    server.remote = {
        "beta": {"enabled": True, "variant": "v2", "metadata": {"payload": '{"n": 1}'}},
        "other": {"enabled": False, "variant": None},
    }
    tracker = make(flags_secret_key=None)
    helper = tracker.start(request()).helper
    assert helper.get_feature_flag("beta") == "v2"
    assert helper.feature_enabled("beta") is True
    assert helper.get_feature_flag_payload("beta") == {"n": 1}
    (call,) = server.made("flags")
    assert call["json"]["flag_keys_to_evaluate"] == ["beta"]
    assert call["json"]["distinct_id"] == helper.distinct_id
    assert helper.get_all_flags() == {"beta": "v2", "other": False}
    assert helper.get_all_flags() == {"beta": "v2", "other": False}
    assert helper.get_feature_flag("other") is False
    assert len(server.made("flags")) == 2  # the single read, then one get_all_flags


def test_flags_read_all_go_on_events_with_the_enabled_ones_active(
    server: FlagsServer, make: MakeTracker
) -> None:
    tracker = make()
    ctx = tracker.start(request())
    helper = ctx.helper
    flags = helper.get_all_flags()
    assert set(flags) == {"checkout-test", "dark-mode"}  # the others need the server
    assert flags["dark-mode"] is False
    assert server.made("flags") != []  # the undecided ones asked for
    tracker.finish(ctx, HTML)
    (view,) = events(server, "$pageview")
    assert view["properties"]["$feature/dark-mode"] is False
    assert view["properties"]["$active_feature_flags"] == ["checkout-test"]
    assert events(server, "$feature_flag_called") == []  # get_all_flags sends none


def test_send_event_false_and_the_callers_own_property_win(
    server: FlagsServer, make: MakeTracker
) -> None:
    tracker = make()
    ctx = tracker.start(request())
    ctx.helper.get_feature_flag("dark-mode", send_event=False)
    ctx.helper.capture("custom", {"$feature/dark-mode": "mine"})
    assert events(server, "$feature_flag_called") == []
    (custom,) = events(server, "custom")
    assert custom["properties"]["$feature/dark-mode"] == "mine"
    assert custom["properties"]["$active_feature_flags"] == []


def test_person_properties_of_the_user_decide_locally(
    server: FlagsServer, make: MakeTracker
) -> None:
    tracker = make()
    anonymous = tracker.start(request()).helper
    # No email for an anonymous visitor: only the server can decide (it has no record).
    assert anonymous.feature_enabled("corp-only") is False
    assert server.made("flags")[0]["json"]["flag_keys_to_evaluate"] == ["corp-only"]
    ctx = tracker.start(request())
    tracker.set_user(ctx, "user-7", {"email": "ann@corp.example"})
    assert ctx.helper.get_feature_flag("corp-only") is True
    assert len(server.made("flags")) == 1
    (called,) = [e for e in events(server, "$feature_flag_called") if e["distinct_id"] == "user-7"]
    assert called["properties"]["$feature_flag_response"] is True


def test_login_switches_the_visitor_and_continuity_flags_send_the_anonymous_id(
    server: FlagsServer, make: MakeTracker
) -> None:
    server.remote = {"sticky": {"enabled": True, "variant": None}}
    tracker = make()
    # A returning anonymous visitor (our cookie), then a login in this request.
    first = tracker.start(request())
    first.helper.capture("seen")
    cookie = {c.name: c.value for c in tracker.response_cookies(first)}
    ctx = tracker.start(request(cookies=cookie))
    helper = ctx.helper
    anon_id = helper.distinct_id
    assert helper.get_feature_flag("sticky") is True
    assert "$anon_distinct_id" not in server.made("flags")[0]["json"]
    assert server.made("flags")[0]["json"]["$device_id"] == anon_id
    helper.login("user-9")
    assert helper.get_feature_flag("sticky") is True  # evaluated again, for the user
    body = server.made("flags")[1]["json"]
    assert body["distinct_id"] == "user-9"
    assert body["$anon_distinct_id"] == anon_id
    called = events(server, "$feature_flag_called")
    assert [e["distinct_id"] for e in called] == [anon_id, "user-9"]


def test_a_hanging_posthog_never_blocks_the_event_loop_nor_passes_the_timeout(
    server: FlagsServer, make: MakeTracker
) -> None:
    server.delay["flags"] = 3.0
    tracker = make(flags_secret_key=None, flags_timeout=0.3)
    helper = tracker.start(request()).helper

    async def main() -> tuple[Any, int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        start = time.monotonic()
        value = await helper.aget_feature_flag("beta")
        elapsed = time.monotonic() - start
        task.cancel()
        return value, ticks, elapsed

    value, ticks, elapsed = asyncio.run(main())
    assert value is None
    assert ticks >= 5  # the loop kept running while /flags hung
    assert elapsed < 2.5  # flags_timeout (0.3 s), well before the server's 3 s


def test_async_variants_share_the_request_cache(server: FlagsServer, make: MakeTracker) -> None:
    server.remote = {"beta": {"enabled": True, "variant": None, "metadata": {"payload": "7"}}}
    tracker = make(flags_secret_key=None)
    ctx = tracker.start(request())
    helper = ctx.helper

    async def main() -> list[Any]:
        return [
            await helper.aget_feature_flag("beta"),
            await helper.afeature_enabled("beta"),
            await helper.aget_feature_flag_payload("beta"),
            await helper.aget_all_flags(),
        ]

    assert asyncio.run(main()) == [True, True, 7, {"beta": True}]
    assert len(server.made("flags")) == 2  # beta once, then all flags once
    assert helper.get_feature_flag("beta") is True
    assert len(server.made("flags")) == 2


def test_bootstrap_has_the_locally_decided_flags_and_the_ones_read(
    server: FlagsServer, make: MakeTracker
) -> None:
    server.remote = {"sticky": {"enabled": True, "variant": None}}
    tracker = make()
    ctx = tracker.start(request())
    helper = ctx.helper
    snippet = posthog_snippet(helper)
    bootstrap = _init_options(snippet)["bootstrap"]
    value = tracker.client.get_feature_flag(
        "checkout-test", distinct_id=helper.distinct_id, send_event=False
    )
    assert bootstrap["distinctID"] == helper.distinct_id
    # Decided locally; sticky and corp-only need the server: left out, and not asked.
    assert bootstrap["featureFlags"] == {"checkout-test": value, "dark-mode": False}
    assert json.loads(bootstrap["featureFlagPayloads"]["checkout-test"]) == {
        "color": {"control": "grey", "test-a": "red", "test-b": "blue"}[str(value)]
    }
    assert server.made("flags") == []
    assert events(server, "$feature_flag_called") == []  # rendering is not a read
    # A flag read this request goes in whatever decided it.
    assert helper.get_feature_flag("sticky") is True
    again = _init_options(posthog_snippet(helper))["bootstrap"]
    assert again["featureFlags"]["sticky"] is True
    assert len(server.made("flags")) == 1
    tracker.finish(ctx, HTML)
    (view,) = events(server, "$pageview")
    assert view["properties"]["$active_feature_flags"] == ["sticky"]  # only what was read


def test_bootstrap_never_waits_for_definitions_still_loading(server: FlagsServer) -> None:
    server.delay["definitions"] = 3.0
    client = Client(TOKEN, host=server.url, sync_mode=True, flags_secret_key=SECRET)
    try:
        tracker = Tracker(client, TrackerOptions(cookie_secret="s"))
        helper = tracker.start(request()).helper
        start = time.monotonic()
        bootstrap = _init_options(posthog_snippet(helper))["bootstrap"]
        assert time.monotonic() - start < 1.0
        assert "featureFlags" not in bootstrap
    finally:
        client.shutdown(timeout=1.0)


def test_a_cookieless_visitor_has_no_flags(server: FlagsServer, make: MakeTracker) -> None:
    tracker = make()
    tracker = Tracker(tracker.client, TrackerOptions(cookieless_mode="server_hash"))
    helper = tracker.start(request()).helper
    assert helper.get_feature_flag("checkout-test") is None
    assert helper.get_all_flags() == {}
    assert server.made("flags") == []


def test_bad_arguments_name_the_field_and_the_noop_helper_answers_nothing(
    make: MakeTracker,
) -> None:
    helper = make().start(request()).helper
    noop = NoopHelper("test")
    for target in (helper, noop):
        assert isinstance(target, RequestHelper)
        with pytest.raises(TypeError, match="key must be a str"):
            target.get_feature_flag(3)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="key must not be empty"):
            target.feature_enabled("")
        with pytest.raises(TypeError, match="send_event must be a bool"):
            target.get_feature_flag("x", send_event=1)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="key must be a str"):
            target.get_feature_flag_payload(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="key must be a str"):
            asyncio.run(target.aget_feature_flag(b"x"))  # type: ignore[arg-type]
    assert noop.get_feature_flag("checkout-test") is None
    assert noop.feature_enabled("checkout-test") is False
    assert noop.get_feature_flag_payload("checkout-test") is None
    assert noop.get_all_flags() == {}
    assert asyncio.run(noop.aget_all_flags()) == {}
    assert asyncio.run(noop.afeature_enabled("x")) is False


def _init_options(snippet: str) -> dict[str, Any]:
    start = snippet.index("posthog.init(") + len("posthog.init(")
    text = snippet[start : snippet.rindex(");")]
    _token, options = json.loads(f"[{text}]")
    assert isinstance(options, dict)
    return options


def test_forced_flags_reach_the_request_helper_and_the_bootstrap(
    make: MakeTracker, server: FlagsServer, posthog_flags: Any
) -> None:
    posthog_flags.set("checkout-test", "test-a", payload={"color": "red"})
    tracker = make()
    ctx = tracker.start(request())
    helper = ctx.helper
    assert helper.get_feature_flag("checkout-test") == "test-a"
    assert helper.get_feature_flag_payload("checkout-test") == {"color": "red"}
    assert helper.get_feature_flag("dark-mode") is None  # not forced: unknown
    bootstrap = _init_options(posthog_snippet(helper))["bootstrap"]
    assert bootstrap["featureFlags"] == {"checkout-test": "test-a"}
    assert server.made("flags") == []


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.lists(st.text(), max_size=3), st.dictionaries(st.text(), st.integers(), max_size=3),
)  # fmt: skip


@pytest.fixture(scope="module")
def offline_tracker() -> Iterator[Tracker]:
    client = Client("phc_test", transport=RecorderTransport())
    client.flags.set_definitions({"flags": [CHECKOUT, OFF], "group_type_mapping": {}})
    yield Tracker(client, TrackerOptions(cookie_secret="s"))
    client.shutdown(timeout=1.0)


@given(key=ANYTHING, send_event=ANYTHING)
def test_any_argument_gives_a_value_or_an_error_naming_the_field(
    offline_tracker: Tracker, key: Any, send_event: Any
) -> None:
    helper = offline_tracker.start(request()).helper
    for call in (
        lambda: helper.get_feature_flag(key, send_event=send_event),
        lambda: helper.feature_enabled(key, send_event=send_event),
        lambda: helper.get_feature_flag_payload(key),
        lambda: asyncio.run(helper.aget_feature_flag(key, send_event=send_event)),
    ):
        message = None
        try:
            value = call()
        except (TypeError, ValueError) as error:
            message = str(error)
        if message is not None:
            assert message.startswith(("key ", "send_event "))
        else:
            assert value is None or isinstance(value, (bool, str, dict))


def test_a_read_keeps_its_value_when_its_event_cannot_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Sync mode: an event that cannot be delivered raises DeliveryError inside the read.
    client = Client(TOKEN, host=f"http://127.0.0.1:{port}", sync_mode=True, max_retries=0)
    try:
        client.flags.set_definitions({"flags": [CHECKOUT], "group_type_mapping": {}})
        helper = Tracker(client, TrackerOptions(cookie_secret="s")).start(request()).helper
        assert helper.get_feature_flag("checkout-test") in ("control", "test-a", "test-b")
        assert "$feature_flag_called failed" in caplog.text
    finally:
        client.shutdown(timeout=1.0)


def test_group_flags_use_the_requests_groups(server: FlagsServer, make: MakeTracker) -> None:
    company_flag = {
        "id": 16, "key": "company-beta", "active": True,
        "filters": {"aggregation_group_type_index": 0,
                    "groups": [{"properties": [], "rollout_percentage": 100}]},
    }  # fmt: skip
    server.definitions = {
        "flags": [company_flag],
        "group_type_mapping": {"0": "company"},
        "cohorts": {},
    }
    tracker = make()
    without = tracker.start(request()).helper
    assert without.get_feature_flag("company-beta") is False  # no company: off, as PostHog
    ctx = tracker.start(request())
    ctx.helper.group("company", "acme")
    assert ctx.helper.get_feature_flag("company-beta") is True
    assert server.made("flags") == []
    (called,) = [
        e
        for e in events(server, "$feature_flag_called")
        if e["properties"]["$feature_flag_response"] is True
    ]
    assert called["properties"]["$groups"] == {"company": "acme"}


def test_group_flags_evaluate_on_the_properties_group_gave(
    server: FlagsServer, make: MakeTracker
) -> None:
    enterprise_flag = {
        "id": 17, "key": "enterprise-beta", "active": True,
        "filters": {"aggregation_group_type_index": 0,
                    "groups": [{"properties": [{"key": "plan", "value": ["enterprise"],
                                                "operator": "exact", "type": "group",
                                                "group_type_index": 0}],
                                "rollout_percentage": 100}]},
    }  # fmt: skip
    server.definitions = {
        "flags": [enterprise_flag],
        "group_type_mapping": {"0": "company"},
        "cohorts": {},
    }
    tracker = make()
    enterprise = tracker.start(request()).helper
    enterprise.group("company", "acme", {"plan": "enterprise"})
    assert enterprise.get_feature_flag("enterprise-beta") is True
    assert enterprise.get_all_flags() == {"enterprise-beta": True}
    free = tracker.start(request()).helper
    free.group("company", "bcorp", {"plan": "free"})
    assert asyncio.run(free.aget_feature_flag("enterprise-beta")) is False
    assert server.made("flags") == []  # both decided locally, on the given properties
    # Another company without properties: the first one's do not carry over.
    moved = tracker.start(request()).helper
    moved.group("company", "acme", {"plan": "enterprise"})
    moved.group("company", "ccorp")
    moved.get_feature_flag("enterprise-beta")
    (flags_call,) = server.made("flags")
    assert flags_call["json"]["groups"] == {"company": "ccorp"}
    assert flags_call["json"]["group_properties"] == {"company": {"$group_key": "ccorp"}}


def test_a_detached_helper_reads_flags_for_its_visitor(
    server: FlagsServer, make: MakeTracker
) -> None:
    tracker = make()
    helper = tracker.start(request()).helper
    value = helper.get_feature_flag("checkout-test")
    detached = detached_helper(tracker.client, distinct_id=helper.distinct_id)
    assert detached.get_feature_flag("checkout-test") == value
    assert asyncio.run(detached.aget_feature_flag("checkout-test")) == value
    assert detached.get_all_flags()["checkout-test"] == value
    assert len(events(server, "$feature_flag_called")) == 1  # the same visitor and value


def test_a_package_fault_in_a_read_is_logged_and_the_read_answers_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client(TOKEN, transport=RecorderTransport())
    evaluator = client.flags
    try:
        helper = Tracker(client, TrackerOptions(cookie_secret="s")).start(request()).helper
        client.flags = None  # type: ignore[assignment]  # a fault inside the read
        assert helper.get_feature_flag("checkout-test") is None
        assert helper.feature_enabled("checkout-test") is False
        assert "get_feature_flag failed" in caplog.text
        with pytest.raises(TypeError, match="key must be a str"):
            helper.get_feature_flag(42)  # type: ignore[arg-type]  # the caller's bug: raised
    finally:
        client.flags = evaluator
        client.shutdown(timeout=1.0)
