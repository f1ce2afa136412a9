"""A tiny Django shop for the fixture tests (``@pytest.mark.urls``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def pricing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><title>Pricing</title><h1>Pricing</h1>")


def buy(request: HttpRequest) -> JsonResponse:
    request.posthog.capture("purchase_completed", {"amount": 49})  # type: ignore[attr-defined]
    return JsonResponse({"ok": True})


urlpatterns = [
    path("pricing/", pricing),
    path("buy/", buy),
    path("login/", auth_views.LoginView.as_view(template_name="login.html")),
]
