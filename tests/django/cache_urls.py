"""URLs of the full-page cache tests: pages with the snippet and a public cache policy."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template
from django.urls import path

PAGE = Template("<head>{% load posthog_web %}{% posthog_snippet %}</head><p>page</p>")


def page(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PAGE.render(RequestContext(request, {})))
    response["Cache-Control"] = "public, max-age=600, s-maxage=600"
    return response


def no_store(request: HttpRequest) -> HttpResponse:
    response = page(request)
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [
    path("page/", page),
    path("hidden/page/", page),
    path("no-store/", no_store),
]
