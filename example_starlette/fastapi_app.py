"""The FastAPI example: ``uvicorn example_starlette.fastapi_app:app``.

FastAPI apps usually authenticate in dependencies, which run after the middleware.
So the ``current_user`` dependency tells the helper who the user is with
``posthog.login(...)``; the page view of the request is then attributed to that user.

The middleware builds its own client from ``POSTHOG_API_KEY``/``POSTHOG_HOST``; without
a key, ``local_inbox=True`` sends the events to ``posthog-web inbox``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from example_starlette import common
from posthog_web.asgi import PostHogMiddleware
from posthog_web.fastapi import PostHog

app = FastAPI(title="posthog-web FastAPI example")
app.add_middleware(
    PostHogMiddleware,
    api_key=os.environ.get("POSTHOG_API_KEY"),
    host=os.environ.get("POSTHOG_HOST"),
    local_inbox=True,  # without an API key: the local inbox (where events go is logged)
    secret_key=common.SECRET_KEY,
    posthog_js_options=common.posthog_js_options(),
)
if common.POSTHOG_JS_DIST.is_dir():
    # The app's own copy of posthog-js, which every page's snippet loads.
    app.mount("/static/posthog-js", StaticFiles(directory=common.POSTHOG_JS_DIST))


def current_user(request: Request, posthog: PostHog) -> str | None:
    """The logged-in user (from the signed cookie), made known to PostHog."""
    user = common.unsign(request.cookies.get(common.SESSION_COOKIE))
    if user is not None:
        # Cheap when this browser is already linked to the user: no event is sent.
        posthog.login(user)
    return user


User = Annotated["str | None", Depends(current_user)]


def _html(title: str, body: str, user: str | None, status: int = 200) -> HTMLResponse:
    return HTMLResponse(common.page(title, body, user), status_code=status)


@app.get("/", response_class=HTMLResponse)
async def home(user: User) -> Response:
    return _html("Home", common.home_body(), user)


@app.get("/pricing", response_class=HTMLResponse)
def pricing(user: User) -> Response:
    # A sync endpoint (run in the thread pool): posthog_web.current() works here too.
    return _html("Pricing", common.pricing_body(), user)


@app.get("/products/{product_id}", response_class=HTMLResponse)
async def product(product_id: int, user: User, bought: bool = False) -> Response:
    if product_id not in common.PRODUCTS:
        raise HTTPException(status_code=404, detail="No such product")
    name = str(common.PRODUCTS[product_id]["name"])
    return _html(name, common.product_body(product_id, bought), user)


@app.post("/products/{product_id}/buy")
def buy(product_id: int, user: User, posthog: PostHog) -> Response:
    product = common.PRODUCTS.get(product_id)
    if product is None:
        raise HTTPException(status_code=404, detail="No such product")
    posthog.capture(
        "purchase_completed",
        {"product_id": product_id, "product": product["name"], "price": product["price"]},
    )
    return RedirectResponse(f"/products/{product_id}?bought=true", status_code=303)


@app.get("/api/products")
def api_products(user: User, posthog: PostHog) -> list[dict[str, Any]]:
    # What a mobile app calls when it shows its product list: a $screen, not a $pageview.
    posthog.screen("Products", {"count": len(common.PRODUCTS)})
    return [{"id": pid, **product} for pid, product in common.PRODUCTS.items()]


@app.get("/login", response_class=HTMLResponse)
async def login_form(user: User) -> Response:
    return _html("Log in", common.login_body(failed=False), user)


@app.post("/login")
async def login(request: Request, posthog: PostHog) -> Response:
    user = common.check_login(await request.body())
    if user is None:
        return _html("Log in", common.login_body(failed=True), None, status=401)
    posthog.login(user, common.DEMO_PROFILE)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(common.SESSION_COOKIE, common.sign(user), httponly=True, samesite="lax")
    return response


@app.post("/logout")
async def logout(posthog: PostHog) -> Response:
    posthog.logout()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(common.SESSION_COOKIE)
    return response


@app.get("/dashboard", response_class=HTMLResponse)
async def dashboard(user: User) -> Response:
    if user is None:
        return RedirectResponse("/login", status_code=303)
    return _html("Dashboard", common.dashboard_body(user), user)
