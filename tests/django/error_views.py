"""Views and URLs for the Django error tracking tests (``tests.django.error_views``)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from rest_framework.exceptions import APIException, NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import posthog_web


class CheckoutError(RuntimeError):
    """What the failing views raise."""


def fails(request: HttpRequest, order: int) -> HttpResponse:
    raise CheckoutError(f"order {order} failed")


async def async_fails(request: HttpRequest) -> HttpResponse:
    raise CheckoutError("async order failed")


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def exotic(request: HttpRequest) -> HttpResponse:
    raise Unprintable


class FailingMiddleware:
    """An inner middleware that fails on /handled/ (not a view: no process_exception)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/handled/":
            raise CheckoutError("the middleware failed")
        return self.get_response(request)


def missing(request: HttpRequest) -> HttpResponse:
    raise Http404("no such page")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


def handled(request: HttpRequest) -> HttpResponse:
    try:
        int("12.5x")
    except ValueError:
        request.posthog.capture_exception(properties={"form": "checkout"})  # type: ignore[attr-defined]
    posthog_web.current().capture_exception(CheckoutError("via current()"))
    return HttpResponse("<!doctype html><title>ok</title>")


class ApiFails(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        raise APIException("the upstream API failed")


class ApiMissing(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        raise NotFound("no such order")


class ApiCrashes(APIView):
    authentication_classes = ()
    permission_classes = ()

    def get(self, request: Request) -> Response:
        raise KeyError("order")


urlpatterns = [
    path("orders/<int:order>/fail/", fails, name="fails"),
    path("async-fail/", async_fails),
    path("missing/", missing),
    path("exotic/", exotic),
    path("forbidden/", forbidden),
    path("handled/", handled),
    path("api/fails/", ApiFails.as_view()),
    path("api/missing/", ApiMissing.as_view()),
    path("api/crashes/", ApiCrashes.as_view()),
]
