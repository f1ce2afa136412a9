"""Views and URLs for the Django security tests (``ROOT_URLCONF = "tests.security.django_app"``)."""

from __future__ import annotations

from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

import posthog_web

HTML = "<!doctype html><title>t</title><p>the app's own page</p>"
APP_HEADER = "X-App"


def _page(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(HTML)
    response[APP_HEADER] = "unchanged"
    return response


def page(request: HttpRequest) -> HttpResponse:
    posthog_web.current().capture("viewed", {"kind": "sync"})
    return _page(request)


async def async_page(request: HttpRequest) -> HttpResponse:
    posthog_web.current().capture("viewed", {"kind": "async"})
    return _page(request)


def form(request: HttpRequest) -> HttpResponse:
    posthog_web.current().capture("form_sent", {"fields": len(request.POST)})
    return _page(request)


def sign_in(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponse("no", status=403)
    login(request, user)
    return _page(request)


def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return _page(request)


urlpatterns = [
    path("login/", sign_in),
    path("logout/", sign_out),
    path("form/", form),
    path("async/", async_page),
    re_path(r"^.*$", page),
]
