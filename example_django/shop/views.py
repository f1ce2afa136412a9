"""The example shop: every HTML page is a page view; the Buy button is a custom event."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from posthog_web.django import PostHogHttpRequest

PRODUCTS: dict[int, dict[str, object]] = {
    1: {"pk": 1, "name": "Hedgehog mug", "price": 12},
    2: {"pk": 2, "name": "Hedgehog hoodie", "price": 49},
    3: {"pk": 3, "name": "Hedgehog sticker pack", "price": 5},
}


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/home.html", {"products": PRODUCTS.values()})


def pricing(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/pricing.html")


def _product(pk: int) -> dict[str, object]:
    try:
        return PRODUCTS[pk]
    except KeyError:
        raise Http404("no such product") from None


def product(request: PostHogHttpRequest, pk: int) -> HttpResponse:
    item = _product(pk)
    # Add a property to the automatic page view (its title stays the page's <title>, as
    # posthog-js would send it); the rules still decide, so a bot or a prefetch records
    # nothing. request.posthog.page() would force a page view instead.
    request.posthog.pageview_properties(properties={"product_id": pk})
    return render(
        request, "shop/product.html", {"product": item, "bought": "bought" in request.GET}
    )


@require_POST
def buy(request: PostHogHttpRequest, pk: int) -> HttpResponse:
    item = _product(pk)
    request.posthog.capture(
        "purchase_completed",
        {
            "product_id": pk,
            "product_name": item["name"],
            "amount": item["price"],
            "currency": "EUR",
        },
    )
    return redirect(f"/products/{pk}/?bought=1")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "shop/dashboard.html")


def api_products(request: PostHogHttpRequest) -> JsonResponse:
    # What a mobile app calls when it shows its product list: a $screen, not a $pageview.
    request.posthog.screen("Products", {"count": len(PRODUCTS)})
    return JsonResponse(list(PRODUCTS.values()), safe=False)


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})
