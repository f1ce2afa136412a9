"""Views for the Django integration tests."""

from __future__ import annotations

from collections.abc import Iterator

from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views import View

import posthog_web

HTML = "<!doctype html><title>t</title><p>hello</p>"


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTML)


def long_page(request: HttpRequest) -> HttpResponse:
    # Over GZipMiddleware's 200 bytes: it compresses this one.
    return HttpResponse("<!doctype html><title>A long page</title>" + "<p>hello</p>" * 40)


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTML)


def product(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(HTML)


class PricingView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(HTML)


def named(request: HttpRequest) -> HttpResponse:
    request.posthog.page("Named page", {"plan": "pro"})  # type: ignore[attr-defined]
    return HttpResponse(HTML)


def named_twice(request: HttpRequest) -> HttpResponse:
    request.posthog.page("First")  # type: ignore[attr-defined]
    request.posthog.page("Second")  # type: ignore[attr-defined]
    return HttpResponse(HTML)


def forced(request: HttpRequest) -> JsonResponse:
    request.posthog.page()  # type: ignore[attr-defined]
    return JsonResponse({"ok": True})


def buy(request: HttpRequest) -> JsonResponse:
    request.posthog.capture("purchase_completed", {"amount": 49})  # type: ignore[attr-defined]
    return JsonResponse({"distinct_id": request.posthog.distinct_id})  # type: ignore[attr-defined]


async def async_buy(request: HttpRequest) -> JsonResponse:
    request.posthog.capture("purchase_completed", {"amount": 50})  # type: ignore[attr-defined]
    return JsonResponse({"distinct_id": request.posthog.distinct_id})  # type: ignore[attr-defined]


def _service_code() -> str:
    helper = posthog_web.current()
    helper.capture("service_event")
    return helper.distinct_id


def service(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"distinct_id": _service_code()})


def api(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def redirect(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect("/")


def error(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTML, status=500)


def not_found(request: HttpRequest) -> HttpResponse:
    return HttpResponse(HTML, status=404)


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        yield "<!doctype html>"
        yield "<p>streamed</p>"

    return StreamingHttpResponse(chunks(), content_type="text/html")


def uses_session(request: HttpRequest) -> HttpResponse:
    request.session["seen"] = True
    return HttpResponse(HTML)


def uses_user(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"{HTML}{request.user.is_authenticated}")


async def async_uses_user(request: HttpRequest) -> HttpResponse:
    user = await request.auser()
    return HttpResponse(f"{HTML}{user.is_authenticated}")


def whoami(request: HttpRequest) -> JsonResponse:
    helper = request.posthog  # type: ignore[attr-defined]
    return JsonResponse(
        {
            "distinct_id": helper.distinct_id,
            "identified": helper.is_identified,
            "session_id": helper.session_id,
        }
    )


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")
