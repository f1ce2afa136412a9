"""The ASGI lifespan protocol: the client's flush when the server stops."""

from __future__ import annotations

import asyncio
import logging

from posthog_web.asgi.types import ASGIApp, Message, Receive, Scope, Send
from posthog_web.client import Client
from posthog_web.web.guard import guarded

__all__ = ["Lifespan"]

logger = logging.getLogger(__name__)


class Lifespan:
    """Pass the lifespan protocol through, flushing the client before shutdown is acknowledged.

    When the wrapped app does not speak lifespan (it raises or returns at once), the
    middleware answers the protocol itself, so a bare ASGI app still gets the flush.
    """

    __slots__ = ("acknowledged", "app", "client", "received", "timeout")

    def __init__(self, app: ASGIApp, client: Client, timeout: float) -> None:
        self.app = app
        self.client = client
        self.timeout = timeout
        self.received: set[str] = set()
        self.acknowledged = False

    async def run(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_wrapper() -> Message:
            message = await receive()
            self.received.add(message["type"])
            return message

        async def send_wrapper(message: Message) -> None:
            self.acknowledged = True
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._flush()
            await send(message)

        try:
            await self.app(scope, receive_wrapper, send_wrapper)
        except Exception:
            if self.acknowledged or not self._may_take_over():
                raise
            logger.debug("posthog-web: the app does not support lifespan; answering it")
        else:
            if self.acknowledged or not self._may_take_over():
                return
        await self._answer(receive, send)

    def _may_take_over(self) -> bool:
        return "lifespan.shutdown" not in self.received

    async def _answer(self, receive: Receive, send: Send) -> None:
        if "lifespan.startup" not in self.received:
            await receive()
        await send({"type": "lifespan.startup.complete"})
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        await self._flush()
        await send({"type": "lifespan.shutdown.complete"})

    async def _flush(self) -> None:
        with guarded("lifespan flush"):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # not asyncio (trio): block, the server is stopping anyway
                self.client.flush(self.timeout)
                return
            # flush() blocks until the sender thread is done; keep the loop free meanwhile.
            await loop.run_in_executor(None, self.client.flush, self.timeout)
