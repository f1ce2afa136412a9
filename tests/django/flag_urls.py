"""Views and URLs that read feature flags (tests/django/test_flags.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.urls import path

PAGE = engines["django"].from_string(
    "{% load posthog_web %}<!doctype html><html><head><title>Shop</title>"
    "{% posthog_snippet %}</head><body>"
    '{% posthog_feature_flag "checkout-test" as variant %}'
    '{% posthog_feature_enabled "checkout-test" as on %}'
    '{% posthog_feature_flag_payload "checkout-test" as payload %}'
    '<p id="variant">{{ variant }}</p><p id="on">{{ on }}</p>'
    '<p id="color">{{ payload.color }}</p></body></html>'
)


def banner(request: HttpRequest) -> HttpResponse:
    variant = request.posthog.get_feature_flag("checkout-test")  # type: ignore[attr-defined]
    return HttpResponse(f"<!doctype html><title>Banner</title><p>{variant}</p>")


async def async_banner(request: HttpRequest) -> JsonResponse:
    helper = request.posthog  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "variant": await helper.aget_feature_flag("checkout-test"),
            "corp": await helper.afeature_enabled("corp-only"),
            "all": await helper.aget_all_flags(),
            "distinct_id": helper.distinct_id,
        }
    )


def corp(request: HttpRequest) -> JsonResponse:
    helper = request.posthog  # type: ignore[attr-defined]
    return JsonResponse({"corp": helper.feature_enabled("corp-only"), "id": helper.distinct_id})


def templated(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("banner/", banner),
    path("async-banner/", async_banner),
    path("corp/", corp),
    path("templated/", templated),
]
