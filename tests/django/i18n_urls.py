"""A translated site's URLconfs: i18n_patterns (a language prefix), with and without a
prefix for the default language, a nested include, and a plain route outside them."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils import translation


def product(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(f"<!doctype html><title>Product {pk}</title><p>{pk}</p>")


def switches_language(request: HttpRequest) -> HttpResponse:
    translation.activate("de")  # a view may change the active language
    return HttpResponse("<!doctype html><title>Switched</title><p>de</p>")


_PAGES = [
    path("products/<int:pk>/", product, name="product"),
    path("shop/", include([path("items/<int:pk>/", product, name="item")])),
    path("switch/", switches_language, name="switch"),
]

# Outside i18n_patterns: a route that only looks like a language prefix stays whole.
urlpatterns = [
    path("fr/legacy/", product, {"pk": 0}, name="legacy"),
    *i18n_patterns(*_PAGES, prefix_default_language=False),
]


class EveryLanguagePrefixed:
    """The URLconf of a site that prefixes the default language too (``/en/...``)."""

    urlpatterns = i18n_patterns(*_PAGES)
