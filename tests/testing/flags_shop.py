"""A Django view that reads a feature flag, for the ``posthog_flags`` tests (docs/testing.md)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from posthog_web import Client

# The app's own client, as in settings: POSTHOG_WEB = {"CLIENT": "...flags_shop.posthog"}.
posthog = Client("phc_shop_test", host="https://eu.i.posthog.com")


def checkout(request: HttpRequest) -> JsonResponse:
    distinct_id = request.posthog.distinct_id  # type: ignore[attr-defined]
    variant = posthog.get_feature_flag("new-checkout", distinct_id=distinct_id)
    payload = posthog.get_feature_flag_payload("new-checkout", distinct_id=distinct_id)
    return JsonResponse({"variant": variant, "payload": payload})


urlpatterns = [path("checkout/", checkout)]
