"""The async seam: local evaluation inline, waits and /flags off the event loop."""

from __future__ import annotations

import asyncio
import time

from tests.flags.conftest import MakeClient
from tests.flags.server import FlagsServer
from tests.flags.test_client import checkout, definitions, needs_email


def test_local_flags_evaluate_inline_and_remote_ones_in_a_thread(
    flags_server: FlagsServer, flags_client: MakeClient
) -> None:
    flags_server.definitions = definitions(checkout(), needs_email())
    flags_server.remote = {"needs-email": {"enabled": True}}
    flags_server.delay["flags"] = 0.3
    client = flags_client()
    assert client.flags.definitions(wait=5) is not None

    async def main() -> None:
        local = await client.flags.aevaluate("checkout-test", "user-42")
        assert (local.value, local.locally_evaluated) == ("test-b", True)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        remote = await client.flags.aevaluate("needs-email", "user-42")
        ticker.cancel()
        assert (remote.value, remote.locally_evaluated) == (True, False)
        assert ticks > 3  # the loop kept running while /flags was slow
        everything = await client.flags.aevaluate_all("user-42")
        assert {k: r.value for k, r in everything.items()} == {
            "checkout-test": "test-b",
            "needs-email": True,
        }
        only_local = await client.flags.aevaluate_all("user-42", only_evaluate_locally=True)
        assert only_local["needs-email"].value is None

    asyncio.run(main())
    assert len(flags_server.made("flags")) == 2
