"""Arbitrary input to every operation: a clean event the server accepts, or the documented error."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posthog_web import Client
from posthog_web.inbox import InboxServer

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
odd_values = st.sampled_from([object(), b"bytes", dt.date(2026, 1, 1), {1, 2}, (1, "a")])
values = st.recursive(
    json_scalars | odd_values,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
properties = st.none() | st.dictionaries(st.text(max_size=10) | st.integers(), values, max_size=4)
ids = (
    st.text(max_size=30) | st.sampled_from(["null", "0", "user_1", " ", "x" * 201]) | st.integers()
)
timestamps = (
    st.none()
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.text(max_size=30)
    | st.sampled_from(["2026-08-22T10:00:00Z", "2026-08-22T10:00:00+02:00"])
    | st.integers()
)


@pytest.fixture(scope="module")
def shared_inbox() -> Iterator[InboxServer]:
    server = InboxServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(shared_inbox: InboxServer) -> Iterator[Client]:
    client = Client("phc_test", host=shared_inbox.url, sync_mode=True, max_retries=0)
    yield client
    client.shutdown(timeout=5)


def _check(client: Client, call: Any) -> None:
    try:
        status = call()
    except (TypeError, ValueError):
        return
    assert status == 200


common = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@common
@given(event=st.text(max_size=20) | st.integers(), distinct_id=ids, props=properties, ts=timestamps)
def test_capture(client: Client, event: Any, distinct_id: Any, props: Any, ts: Any) -> None:
    _check(
        client,
        lambda: client.capture(event, distinct_id=distinct_id, properties=props, timestamp=ts),
    )


@common
@given(
    distinct_id=ids,
    name=st.text(max_size=20),
    url=st.none() | st.text(max_size=30),
    props=properties,
)
def test_page(client: Client, distinct_id: Any, name: Any, url: Any, props: Any) -> None:
    _check(
        client, lambda: client.page(distinct_id=distinct_id, name=name, url=url, properties=props)
    )


@common
@given(distinct_id=ids, name=st.text(max_size=20), props=properties, ts=timestamps)
def test_screen(client: Client, distinct_id: Any, name: Any, props: Any, ts: Any) -> None:
    _check(
        client,
        lambda: client.screen(distinct_id=distinct_id, name=name, properties=props, timestamp=ts),
    )


@common
@given(distinct_id=ids, props=properties, once=properties, anon=st.none() | ids)
def test_identify(client: Client, distinct_id: Any, props: Any, once: Any, anon: Any) -> None:
    _check(
        client,
        lambda: client.identify(
            distinct_id=distinct_id, properties=props, properties_once=once, anon_distinct_id=anon
        ),
    )


@common
@given(distinct_id=ids, alias=ids, ts=timestamps)
def test_alias(client: Client, distinct_id: Any, alias: Any, ts: Any) -> None:
    _check(client, lambda: client.alias(distinct_id=distinct_id, alias=alias, timestamp=ts))
