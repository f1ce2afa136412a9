"""Beyond the request: with_current in threads, the detached helper, the no-op helper."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import posthog_web
from posthog_web.inbox import InboxServer
from posthog_web.web.background import detached_helper
from posthog_web.web.helper import NoopHelper, bind, unbind
from tests.core.helpers import MakeClient


def test_with_current_carries_the_helper_into_a_thread(make_client: MakeClient) -> None:
    helper = detached_helper(make_client(disabled=True), distinct_id="u1")
    seen: list[Any] = []
    token = bind(helper)
    try:
        wrapped = posthog_web.with_current(lambda: seen.append(posthog_web.current()))
        bare = threading.Thread(target=lambda: seen.append(posthog_web.current()))
        carried = threading.Thread(target=wrapped)
    finally:
        unbind(token)
    for thread in (bare, carried):
        thread.start()
        thread.join(timeout=10)
    assert isinstance(seen[0], NoopHelper)  # a thread does not inherit the context
    assert seen[1] is helper


def test_detached_helper_sends_every_operation_on_its_person(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    helper = detached_helper(client, distinct_id="u1", session_id="s1", groups={"company": "acme"})
    assert (helper.distinct_id, helper.session_id, helper.is_identified) == ("u1", "s1", True)
    assert helper.posthog_js() is None
    assert not helper.explicit_identity
    helper.capture("job done", {"n": 1})
    helper.page("Report")
    helper.page()
    helper.pageview_properties("ignored")  # no automatic page view outside a request
    helper.screen("Main")
    helper.group("team", "t1", {"size": 3})
    helper.set({"plan": "pro"})
    helper.set_once({"first": 1})
    helper.identify({"email": "a@example.com"})
    helper.alias("legacy-1")
    helper.logout()
    helper.login("u2", {"name": "Two"})
    helper.capture("after login")
    try:
        raise ValueError("the job failed")
    except ValueError:
        helper.capture_exception(properties={"job": "import"})
    helper._autocapture(RuntimeError("only adapters autocapture"), "test")
    assert client.flush(timeout=10)
    events = inbox.events()
    by_name = {e["event"]: e for e in events}
    assert by_name["job done"]["properties"]["$session_id"] == "s1"
    assert by_name["job done"]["properties"]["$groups"] == {"company": "acme"}
    assert by_name["$screen"]["properties"]["$groups"] == {"company": "acme"}
    assert by_name["after login"]["properties"]["$groups"] == {"company": "acme", "team": "t1"}
    assert by_name["$groupidentify"]["distinct_id"] == "u1"
    assert by_name["$set"]["$set"] == {"plan": "pro"}
    assert by_name["$set_once"]["$set_once"] == {"first": 1}
    assert by_name["$create_alias"]["properties"]["alias"] == "legacy-1"
    assert by_name["after login"]["distinct_id"] == "u2"
    assert len([e for e in events if e["event"] == "$pageview"]) == 2
    [exception] = [e for e in events if e["event"] == "$exception"]
    assert exception["distinct_id"] == "u2"
    assert exception["properties"]["$session_id"] == "s1"
    assert exception["properties"]["job"] == "import"
    assert exception["properties"]["$exception_list"][0]["value"] == "the job failed"
    assert exception["properties"]["$groups"] == {"company": "acme", "team": "t1"}
    assert helper.groups == {"company": "acme", "team": "t1"}


def test_a_personless_detached_helper_sends_no_person_properties(
    make_client: MakeClient, inbox: InboxServer
) -> None:
    client = make_client()
    helper = detached_helper(client, distinct_id="anon-1", personless=True)
    helper.capture("job done")
    helper.set({"plan": "pro"})
    helper.identify({"plan": "pro"})
    helper.group("company", "acme", {"name": "Acme"})
    assert client.flush(timeout=10)
    events = {e["event"]: e for e in inbox.events()}
    assert events["job done"]["properties"]["$process_person_profile"] is False
    assert events["$groupidentify"]["distinct_id"] == "$company_acme"
    assert set(events) == {"job done", "$groupidentify"}


def test_noop_helper_checks_group_and_person_arguments() -> None:
    helper = NoopHelper("test")
    assert helper.groups == {}
    helper.group("company", "acme", {"a": 1})
    helper.set({"a": 1})
    helper.set_once({"a": 1})
    with pytest.raises(TypeError, match="group_type must be a str"):
        helper.group(1, "acme")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group_key must not be empty"):
        helper.group("company", " ")
    with pytest.raises(TypeError, match="properties must be a mapping"):
        helper.set([1])  # type: ignore[arg-type]
