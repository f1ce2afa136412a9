"""A CMS-like URLconf: every page served by one re_path catch-all (as Wagtail's
``wagtail_serve``), a namespaced admin, and a streamed page.

The serve view runs a "before serve page" hook that names every page view, as a CMS
hook would.
"""

from __future__ import annotations

import html
from collections.abc import Iterator

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import include, path, re_path

PAGES = {
    "": "Welcome to the bakery",
    "breads/": "Breads & buns",
    "breads/sourdough/": "Sourdough  \n  loaf",
    "about/": "About <us>",
}


def _document(title: str, head_extra: str = "") -> str:
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"{head_extra}<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1></body></html>"
    )


def serve(request: HttpRequest, path: str) -> HttpResponse:
    try:
        title = PAGES[path]
    except KeyError:
        raise Http404(path) from None
    request.posthog.pageview_properties(f"cms: {title}", {"page_path": path})  # type: ignore[attr-defined]
    return HttpResponse(_document(title))


def unnamed_serve(request: HttpRequest, path: str) -> HttpResponse:
    return HttpResponse(_document(PAGES.get(path, "?")))


def admin_index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_document("Images - Admin", head_extra="<meta name=x>" * 50))


def huge_head(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_document("Too far", head_extra="<meta name=x content=y>" * 2000))


def no_title(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><p>no title</p>")


def latin1(request: HttpRequest) -> HttpResponse:
    body = _document("Caf\u00e9 cr\u00e8me").encode("latin-1")
    return HttpResponse(body, content_type="text/html; charset=iso-8859-1")


def streamed(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[str]:
        yield _document("Streamed")

    return StreamingHttpResponse(chunks(), content_type="text/html")


admin_patterns = (
    [path("images/", admin_index, name="index")],
    "wagtailadmin",
)

urlpatterns = [
    path("admin/", include(admin_patterns)),
    path("huge/", huge_head, name="huge"),
    path("untitled/", no_title, name="untitled"),
    path("latin1/", latin1, name="latin1"),
    path("streamed/", streamed, name="streamed"),
    path("raw/", include([re_path(r"^(?P<path>[\w/]*)$", unnamed_serve)])),
    re_path(r"^((?:[\w\-]+/)*)$", serve, name="wagtail_serve"),
]
