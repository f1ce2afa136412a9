"""The Starlette example: ``uvicorn example_starlette.starlette_app:app``.

Identity comes from Starlette's ``AuthenticationMiddleware`` (``scope["user"]``);
the login view also calls ``request.state.posthog.login(...)`` so the anonymous
visitor is linked to the user in the same request.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from example_starlette import common
from posthog_web.asgi import PostHogMiddleware


class CookieBackend(AuthenticationBackend):
    """The demo user from the signed login cookie."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        user = common.unsign(conn.cookies.get(common.SESSION_COOKIE))
        if user is None:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(user)


def _user(request: Request) -> str | None:
    return request.user.display_name if request.user.is_authenticated else None


def _html(request: Request, title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(common.page(title, body, _user(request)), status_code=status)


async def home(request: Request) -> Response:
    return _html(request, "Home", common.home_body())


def pricing(request: Request) -> Response:
    # A sync endpoint (run in the thread pool): posthog_web.current() works here too.
    return _html(request, "Pricing", common.pricing_body())


async def product(request: Request) -> Response:
    product_id = request.path_params["product_id"]
    if product_id not in common.PRODUCTS:
        return _html(request, "Not found", "<p>No such product.</p>", status=404)
    name = str(common.PRODUCTS[product_id]["name"])
    return _html(request, name, common.product_body(product_id, "bought" in request.query_params))


async def buy(request: Request) -> Response:
    product_id = request.path_params["product_id"]
    product = common.PRODUCTS.get(product_id)
    if product is None:
        return RedirectResponse("/", status_code=303)
    request.state.posthog.capture(
        "purchase_completed",
        {"product_id": product_id, "product": product["name"], "price": product["price"]},
    )
    return RedirectResponse(f"/products/{product_id}?bought=1", status_code=303)


async def api_products(request: Request) -> Response:
    # What a mobile app calls when it shows its product list: a $screen, not a $pageview.
    request.state.posthog.screen("Products", {"count": len(common.PRODUCTS)})
    return JSONResponse([{"id": pid, **product} for pid, product in common.PRODUCTS.items()])


async def login(request: Request) -> Response:
    if request.method == "GET":
        return _html(request, "Log in", common.login_body(failed=False))
    user = common.check_login(await request.body())
    if user is None:
        return _html(request, "Log in", common.login_body(failed=True), status=401)
    request.state.posthog.login(user, common.DEMO_PROFILE)
    response = RedirectResponse("/dashboard", status_code=303)
    response.set_cookie(common.SESSION_COOKIE, common.sign(user), httponly=True, samesite="lax")
    return response


async def logout(request: Request) -> Response:
    request.state.posthog.logout()
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(common.SESSION_COOKIE)
    return response


@requires("authenticated", redirect="login")
async def dashboard(request: Request) -> Response:
    return _html(request, "Dashboard", common.dashboard_body(request.user.display_name))


posthog_client = common.make_client()

routes: list[BaseRoute] = [
    Route("/", home, name="home"),
    Route("/pricing", pricing, name="pricing"),
    Route("/products/{product_id:int}", product, name="product"),
    Route("/products/{product_id:int}/buy", buy, methods=["POST"], name="buy"),
    Route("/api/products", api_products, name="api-products"),
    Route("/login", login, methods=["GET", "POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/dashboard", dashboard, name="dashboard"),
]
if common.POSTHOG_JS_DIST.is_dir():
    # The app's own copy of posthog-js, which every page's snippet loads.
    routes.append(Mount("/static/posthog-js", StaticFiles(directory=common.POSTHOG_JS_DIST)))

app = Starlette(
    routes=routes,
    middleware=[
        # Authentication first (outside), so the PostHog middleware sees scope["user"]
        # from the start and events captured in the views belong to the user.
        Middleware(AuthenticationMiddleware, backend=CookieBackend()),
        Middleware(
            PostHogMiddleware,
            client=posthog_client,
            secret_key=common.SECRET_KEY,
            posthog_js_options=common.posthog_js_options(),
        ),
    ],
)
