"""A FastAPI app for the real-uvicorn error test: ``uvicorn tests.errors.server_fastapi:app``."""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from posthog_web import Client
from posthog_web.asgi import PostHogMiddleware


class CheckoutError(RuntimeError):
    """What the failing endpoint raises."""


app = FastAPI()


@app.get("/", response_class=HTMLResponse)
def home() -> str:
    return "<!doctype html><title>home</title><h1>served by uvicorn</h1>"


@app.get("/orders/{order}")
async def fail(order: int) -> dict[str, int]:
    raise CheckoutError(f"order {order} failed")


client = Client("phc_test", host=os.environ["POSTHOG_HOST"], flush_interval=0.1)
app.add_middleware(
    PostHogMiddleware, client=client, secret_key="uvicorn-errors-test", person_profiles="always"
)
