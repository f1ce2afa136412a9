"""The ``posthog_flags`` fixture: forced flag values for every client, in a Django view
and a FastAPI route, with ``$feature_flag_called`` still recorded (docs/testing.md)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware
from posthog_web.delivery.recorder import Recorder
from posthog_web.fastapi import PostHog
from posthog_web.testing import ForcedFlags
from tests.testing import flags_shop

app = FastAPI()
client = Client("phc_shop_test", host="https://eu.i.posthog.com")
app.add_middleware(PostHogMiddleware, client=client, secret_key="not-a-secret")


@app.get("/checkout")
def checkout(posthog: PostHog) -> dict[str, Any]:
    if client.feature_enabled("new-checkout", distinct_id=posthog.distinct_id):
        return {"page": "new", "flags": client.get_all_flags(distinct_id=posthog.distinct_id)}
    return {"page": "old"}


def test_fastapi_route_sees_the_forced_variant(
    posthog_flags: ForcedFlags, posthog_events: Recorder
) -> None:
    posthog_flags.set("new-checkout", "test")
    with TestClient(app) as http:
        assert http.get("/checkout").json() == {"page": "new", "flags": {"new-checkout": "test"}}
        posthog_flags.clear()
        assert http.get("/checkout").json() == {"page": "old"}

    called = posthog_events.named("$feature_flag_called")
    assert [e["properties"]["$feature_flag_response"] for e in called] == ["test", None]
    assert called[0]["properties"]["$feature/new-checkout"] == "test"
    assert called[0]["distinct_id"] == called[1]["distinct_id"]  # the request's visitor
    assert called[0]["distinct_id"] != "u"


@pytest.mark.urls("tests.testing.flags_shop")
def test_django_view_sees_the_forced_variant_and_payload(
    client: Any, settings: Any, posthog_flags: ForcedFlags, posthog_events: Recorder
) -> None:
    settings.POSTHOG_WEB = {"CLIENT": "tests.testing.flags_shop.posthog"}
    posthog_flags.set("new-checkout", "test", payload={"color": "blue"})

    assert client.get("/checkout/").json() == {"variant": "test", "payload": {"color": "blue"}}

    [called] = posthog_events.named("$feature_flag_called")
    assert called["properties"]["$feature_flag"] == "new-checkout"
    assert called["properties"]["$feature_flag_payload"] == {"color": "blue"}


def test_every_client_sees_the_forced_values_and_nothing_else(posthog_flags: ForcedFlags) -> None:
    other = Client("phc_other", host="http://127.0.0.1:9", flags_secret_key="phx_secret")
    posthog_flags.set("beta", True)
    posthog_flags.set("old-nav", False)
    try:
        for each in (client, flags_shop.posthog, other):
            assert each.feature_enabled("beta", distinct_id="u", send_event=False)
            assert each.get_feature_flag("old-nav", distinct_id="u", send_event=False) is False
            assert each.get_feature_flag("unknown", distinct_id="u", send_event=False) is None
            assert each.get_all_flags(distinct_id="u") == {"beta": True, "old-nav": False}
        assert other.flags.poller is not None
        assert not other.flags.poller.ready  # nothing was fetched
        posthog_flags.unset("beta")
        assert posthog_flags.values == {"old-nav": False}
        assert other.get_feature_flag("beta", distinct_id="u", send_event=False) is None
    finally:
        other.shutdown(timeout=1)


async def _async_read(client: Client) -> Any:
    return await client.flags.aevaluate("beta", "u")


@pytest.mark.anyio
async def test_async_reads_see_the_forced_values(posthog_flags: ForcedFlags) -> None:
    posthog_flags.set("beta", "v2", payload=[1, 2])
    result = await _async_read(client)
    assert result.value == "v2"
    assert result.payload == [1, 2]


def test_bad_values_are_refused(posthog_flags: ForcedFlags) -> None:
    with pytest.raises(TypeError, match="key"):
        posthog_flags.set("", True)
    with pytest.raises(TypeError, match="value"):
        posthog_flags.set("beta", 1)  # type: ignore[arg-type]


def test_the_fixture_restores_normal_evaluation(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from posthog_web import Client
        from posthog_web.flags import overrides

        client = Client("phc_x", host="https://eu.i.posthog.com")

        def test_forced(posthog_flags):
            posthog_flags.set("beta", True)
            assert client.feature_enabled("beta", distinct_id="u")

        def test_after(posthog_events):
            assert overrides.current is None
            assert client.get_feature_flag("beta", distinct_id="u") is None
            [called] = posthog_events.named("$feature_flag_called")
            assert called["properties"]["$feature_flag_response"] is None
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:django")
    result.assert_outcomes(passed=2)
