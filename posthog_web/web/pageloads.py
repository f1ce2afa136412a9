"""Is this request a page load, judged from its headers alone?

Partial loads (htmx, Turbo frames, Unpoly, XHR), the browser's fetch metadata
(``Sec-Fetch-Dest``/``Sec-Fetch-Mode``) and speculative loads (prefetch, prerender).
:class:`posthog_web.web.pageviews.PageviewRules` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "FETCH_MODE_HEADERS",
    "asks_for_a_document",
    "is_not_document_load",
    "is_partial_page_request",
    "is_prefetch",
    "is_whole_page_fetch",
]


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() == "true"


def is_partial_page_request(headers: Mapping[str, str]) -> bool:
    """True for requests that fetch part of a page (htmx, Turbo frames, Unpoly, XHR).

    htmx boosted links and history restores replace the whole page, so they count.
    """
    if headers.get("hx-request") is not None:
        return not (
            _truthy(headers.get("hx-boosted")) or _truthy(headers.get("hx-history-restore-request"))
        )
    if headers.get("turbo-frame") is not None or headers.get("x-up-target") is not None:
        return True
    return (headers.get("x-requested-with") or "").lower() == "xmlhttprequest"


def is_whole_page_fetch(headers: Mapping[str, str]) -> bool:
    """True for a script's fetch that replaces the whole page: an htmx boosted link or
    history restore, a Turbo Drive visit (``X-Turbo-Request-Id`` without ``Turbo-Frame``)."""
    if headers.get("hx-request") is not None:
        return _truthy(headers.get("hx-boosted")) or _truthy(
            headers.get("hx-history-restore-request")
        )
    return headers.get("x-turbo-request-id") is not None and headers.get("turbo-frame") is None


def asks_for_a_document(headers: Mapping[str, str]) -> bool:
    """True when the request says it loads a page: ``Sec-Fetch-Dest: document``, or,
    from a browser without fetch metadata, an ``Accept`` that lists ``text/html``.

    A response without a body (a 304 Not Modified) cannot say it is a page; this is the
    evidence the request gives instead. A request that says nothing (curl) is not one.
    """
    dest = headers.get("sec-fetch-dest")
    if dest is not None:
        return dest.strip().lower() == "document"
    return "text/html" in (headers.get("accept") or "").lower()


def is_not_document_load(headers: Mapping[str, str]) -> bool:
    """True when the browser's fetch metadata says this is not a page load.

    With ``Sec-Fetch-Dest`` only ``document`` is a page load (an ``iframe``, a ``fetch()``
    or an image is not), and with ``Sec-Fetch-Mode`` only ``navigate``; a request without
    them (an old browser, curl) is not judged here. Whole-page fetches still count
    (:func:`is_whole_page_fetch`).
    """
    dest = headers.get("sec-fetch-dest")
    mode = headers.get("sec-fetch-mode")
    if (dest is None or dest.strip().lower() == "document") and (
        mode is None or mode.strip().lower() == "navigate"
    ):
        return False
    return not is_whole_page_fetch(headers)


_PREFETCH_HEADERS = ("sec-purpose", "purpose", "x-purpose", "x-moz")
#: Every header the checks above and below read: a request with none of them is a page
#: load as far as they are concerned (``PageviewRules.request_excluded``'s fast path).
FETCH_MODE_HEADERS = frozenset(
    (
        "hx-request",
        "turbo-frame",
        "x-up-target",
        "x-requested-with",
        "sec-fetch-dest",
        "sec-fetch-mode",
        *_PREFETCH_HEADERS,
    )
)


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """True for speculative loads: ``Sec-Purpose: prefetch``/``prerender`` and ``Purpose``."""
    for name in _PREFETCH_HEADERS:
        value = headers.get(name)
        if value is not None and ("prefetch" in value.lower() or "prerender" in value.lower()):
            return True
    return False
