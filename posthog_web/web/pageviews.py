"""Is this response a page view? :class:`PageviewRules`, compiled once.

One implementation of the rules for every integration (issue 3): the method, the path
(built-in exclusions, ``exclude_paths``, ``include_paths``, static prefixes), partial
and prefetch loads, bots, the response's type and status, and the user predicate. What
the page view then says is :mod:`posthog_web.web.properties`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from posthog_web.web.bots import BotMatcher
from posthog_web.web.pageloads import (
    FETCH_MODE_HEADERS,
    asks_for_a_document,
    is_not_document_load,
    is_partial_page_request,
    is_prefetch,
    is_whole_page_fetch,
)
from posthog_web.web.request import RequestView, ResponseView

__all__ = [
    "BUILTIN_EXCLUDED_PATHS",
    "SKIP_REASONS",
    "UNTRACKED_REASONS",
    "PageviewRules",
    "is_not_document_load",
    "is_page_response",
    "is_partial_page_request",
    "is_whole_page_fetch",
]

#: Paths that are never page views (machine traffic): re.search patterns on the path.
BUILTIN_EXCLUDED_PATHS: tuple[str, ...] = (
    r"^/(?:health(?:z|check|-check)?|readyz?|livez?|ping)/?$",
    r"^/(?:robots\.txt|favicon\.ico|sitemap[\w.-]*\.xml|apple-touch-icon[\w.-]*\.png)$",
    r"^/\.well-known/",
)

_HTML_TYPES = ("text/html", "application/xhtml+xml")


#: The reasons :meth:`PageviewRules.exclusion` gives, plus ``"record_pageview"`` (the
#: user predicate said no to an HTML page).
SKIP_REASONS: tuple[str, ...] = (
    "method",
    "static",
    "excluded_path",
    "not_included",
    "partial",
    "not_document",
    "prefetch",
    "bot",
    "record_pageview",
)

#: The reasons that mean "not this visitor's page at all" (a bot, a path the app
#: excluded): such a request gets no cookie and no per-visitor posthog-js bootstrap.
UNTRACKED_REASONS: frozenset[str] = frozenset({"static", "excluded_path", "not_included", "bot"})


def is_page_response(response: ResponseView, request: RequestView | None = None) -> bool:
    """A whole HTML page with a 2xx status, or a 304 Not Modified to a page load (the
    browser shows the page it has cached, and posthog-js would count it; without the
    ``request`` that cannot be told, and a 304 is not one): what a page view can be
    made of."""
    status = response.status
    if status == 304:
        return request is not None and asks_for_a_document(request.headers)
    if not 200 <= status < 300 or response.streaming:
        return False
    content_type = (response.content_type or "").lstrip().lower()
    return content_type.startswith(_HTML_TYPES)


def _compile(patterns: Sequence[str], field: str) -> re.Pattern[str] | None:
    if isinstance(patterns, str):
        raise TypeError(f"{field} must be a sequence of regular expressions, not a str")
    sources = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"{field} entries must be str, not {type(pattern).__name__}")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"{field}: {pattern!r} is not a valid regular expression: {exc}"
            ) from None
        sources.append(f"(?:{pattern})")
    return re.compile("|".join(sources)) if sources else None


Predicate = Callable[[RequestView, ResponseView], "bool | None"]


class PageviewRules:
    """The compiled page view decision.

    Args:
        exclude_paths: regular expressions (``re.search`` on the path) that are never page views.
        include_paths: if not empty, only paths matching one of these can be page views.
        static_prefixes: URL prefixes of static and media files.
        predicate: ``f(request, response) -> bool | None`` overriding the decision; None
            keeps the default rules.
        bots: the user-agent matcher; None disables bot filtering.
    """

    def __init__(
        self,
        *,
        exclude_paths: Sequence[str] = (),
        include_paths: Sequence[str] = (),
        static_prefixes: Sequence[str] = (),
        predicate: Predicate | None = None,
        bots: BotMatcher | None = None,
    ) -> None:
        if isinstance(exclude_paths, str):
            raise TypeError("exclude_paths must be a sequence of regular expressions, not a str")
        self._exclude = _compile((*BUILTIN_EXCLUDED_PATHS, *exclude_paths), "exclude_paths")
        self._include = _compile(include_paths, "include_paths")
        if isinstance(static_prefixes, str):
            raise TypeError("static_prefixes must be a sequence of str, not a str")
        self._static = tuple(p for p in static_prefixes if p and p != "/")
        self._predicate = predicate
        self._bots = bots

    def default_decision(
        self, request: RequestView, response: ResponseView, *, excluded: bool | None = None
    ) -> bool:
        """The built-in rules, without the user predicate.

        ``excluded``: :meth:`request_excluded` of this request, when already known.
        """
        if not is_page_response(response, request):
            return False
        return not (self.request_excluded(request) if excluded is None else excluded)

    def rules_out(self, request: RequestView, *, excluded: bool | None = None) -> bool:
        """True when the request alone says no page view, whatever the response will be.

        False whenever a user predicate is set: it sees the response and may say yes.
        """
        if self._predicate is not None:
            return False
        return self.request_excluded(request) if excluded is None else excluded

    def request_excluded(self, request: RequestView) -> bool:
        """The rules that read the request alone: method, paths, partial loads, fetch
        metadata (``Sec-Fetch-Dest``/``Sec-Fetch-Mode``), prefetches, bots."""
        return self.exclusion(request) is not None

    def exclusion(self, request: RequestView, *, visitor_only: bool = False) -> str | None:
        """Why the request alone is not a page view (one of :data:`SKIP_REASONS`), or None.

        ``visitor_only``: only the :data:`UNTRACKED_REASONS` (paths and bots), not the
        ones that a real visitor's request can have (method, partial load, fetch
        metadata, prefetch).
        """
        path = request.path
        if self._static and path.startswith(self._static):
            return "static"
        if self._exclude is not None and self._exclude.search(path):
            return "excluded_path"
        if self._include is not None and not self._include.search(path):
            return "not_included"
        headers = request.headers
        if not visitor_only:
            if request.method != "GET":
                return "method"
            # A plain dict of headers without any fetch-mode header skips these checks.
            if not (isinstance(headers, dict) and FETCH_MODE_HEADERS.isdisjoint(headers)):
                if is_partial_page_request(headers):
                    return "partial"
                if is_not_document_load(headers):
                    return "not_document"
                if is_prefetch(headers):
                    return "prefetch"
        if self._bots is not None and self._bots.is_bot(headers.get("user-agent") or ""):
            return "bot"
        return None

    def is_pageview(
        self, request: RequestView, response: ResponseView, *, excluded: bool | None = None
    ) -> bool:
        """Whether this response is a page view; the user predicate has the last word."""
        if self._predicate is not None:
            verdict = self._predicate(request, response)
            if verdict is not None:
                return bool(verdict)
        return self.default_decision(request, response, excluded=excluded)
