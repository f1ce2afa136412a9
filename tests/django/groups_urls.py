"""Views of the group journeys (tests/django/test_groups.py)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

PAGE = "<!doctype html><html><head><title>t</title></head><body>ok</body></html>"


def workspace(request: HttpRequest, slug: str) -> HttpResponse:
    request.workspace = slug  # type: ignore[attr-defined]
    request.posthog.group("company", "acme", {"name": "Acme"})  # type: ignore[attr-defined]
    request.posthog.capture("report viewed")  # type: ignore[attr-defined]
    request.posthog.set({"plan": "pro"})  # type: ignore[attr-defined]
    return HttpResponse(PAGE)


async def async_workspace(request: HttpRequest, slug: str) -> HttpResponse:
    request.workspace = slug  # type: ignore[attr-defined]
    request.posthog.group("company", "acme", {"name": "Acme"})  # type: ignore[attr-defined]
    return HttpResponse(PAGE)


def workspace_groups(request: Any) -> dict[str, str] | None:
    slug = getattr(request, "workspace", None)
    return {"workspace": slug} if slug else None


urlpatterns = [
    path("w/<slug:slug>/", workspace),
    path("aw/<slug:slug>/", async_workspace),
]
