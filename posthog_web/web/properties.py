"""What a page view and a request's events say: URL, referrer, search, campaign, browser.

:class:`RequestProperties` builds them once per request, masked and capped, with a small
cache for the parts that repeat (user agents, referrers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from posthog_web.events import PROP_CURRENT_URL, PROP_HOST, PROP_PATHNAME
from posthog_web.web.privacy import (
    MAX_HEADER_VALUE_LENGTH,
    MAX_URL_LENGTH,
    cap_text,
)
from posthog_web.web.request import RequestView
from posthog_web.web.useragent import (
    language_properties,
    parse_user_agent,
)

__all__ = [
    "CAMPAIGN_PARAMS",
    "DIRECT",
    "PROP_ROUTE",
    "PROP_ROUTE_NAME",
    "PROP_TITLE",
    "PROP_VIEW",
    "RequestProperties",
    "add_campaign_properties",
    "campaign_properties",
    "location_properties",
    "pageview_properties",
    "raw_user_agent",
    "search_properties",
]

#: The page view's own properties: the page's <title> (as posthog-js sends it), the
#: matched route template, the route's name (with its namespace) and the view.
PROP_TITLE = "title"
PROP_ROUTE = "route"
PROP_ROUTE_NAME = "route_name"
PROP_VIEW = "view"

#: posthog-js's campaign parameters and ad click ids (``CAMPAIGN_PARAMS``), read from the query.
CAMPAIGN_PARAMS: frozenset[str] = frozenset(
    {
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "gad_source",
        "mc_cid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "fbclid",
        "msclkid",
        "twclid",
        "li_fat_id",
        "igshid",
        "ttclid",
        "rdt_cid",
        "epik",
        "qclid",
        "sccid",
        "irclid",
        "_kx",
    }
)

_MAX_USER_AGENT = 1000
_MAX_LANGUAGE = 500  # useragent.language_properties ignores longer Accept-Language values
_MAX_REFERRER = 2000
DIRECT = "$direct"
_CACHE_SIZE = 4096


def location_properties(request: RequestView) -> dict[str, Any]:
    """``$current_url``, ``$host`` and ``$pathname``, as posthog-js names them (unmasked)."""
    return _PLAIN.location(request)


def referrer_properties(headers: Mapping[str, str]) -> dict[str, str]:
    """``$referrer`` and ``$referring_domain`` from the Referer header (``$direct`` without one)."""
    referrer = (headers.get("referer") or "").strip()[:_MAX_REFERRER]
    if not referrer:
        return {"$referrer": DIRECT, "$referring_domain": DIRECT}
    try:
        netloc = urlsplit(referrer).netloc
    except ValueError:
        netloc = ""
    domain = netloc.rpartition("@")[2].lower()
    return {"$referrer": referrer, "$referring_domain": domain or DIRECT}


# posthog-js's search engines (event-utils.ts ``_getSearchEngine``), matched on the
# referrer's host only, and the query parameter holding the search terms.
_SEARCH_ENGINES = (
    ("google.", "google", "q"),
    ("bing.com", "bing", "q"),
    ("yahoo.com", "yahoo", "p"),
    ("duckduckgo.com", "duckduckgo", "q"),
)


def search_properties(headers: Mapping[str, str]) -> dict[str, str]:
    """``$search_engine`` and ``ph_keyword`` when the Referer is a search engine's page."""
    referrer = headers.get("referer")
    if not referrer or not referrer.startswith(("http://", "https://")):
        return {}
    try:
        parts = urlsplit(referrer[:_MAX_REFERRER])
    except ValueError:
        return {}
    host = parts.netloc.rpartition("@")[2].lower()
    for marker, engine, param in _SEARCH_ENGINES:
        if marker in host:
            found = {"$search_engine": engine}
            for key, value in parse_qsl(parts.query):
                if key == param and value:
                    found["ph_keyword"] = value
                    break
            return found
    return {}


def campaign_properties(query_string: str) -> dict[str, str]:
    """UTM parameters and ad click ids present in the query string.

    The first non-empty value of each wins, decoded as ``parse_qsl`` decodes it.
    """
    found: dict[str, str] = {}
    if query_string:
        add_campaign_properties(found, query_string)
    return found


def add_campaign_properties(props: dict[str, Any], query_string: str) -> None:
    """Set the campaign parameters of ``query_string`` on ``props`` (see above)."""
    for part in query_string.split("&"):
        name, sep, value = part.partition("=")
        if not sep or not value:
            continue  # parse_qsl skips blank values and bare names
        if "%" in name or "+" in name:
            name = unquote_plus(name)
        if name in CAMPAIGN_PARAMS and name not in props:
            props[name] = unquote_plus(value) if "%" in value or "+" in value else value


def raw_user_agent(headers: Mapping[str, str]) -> str | None:
    """The User-Agent header, cut like posthog-js (997 characters and ``...`` past 1000)."""
    ua = headers.get("user-agent")
    return _cut_user_agent(ua) if ua else None


def _cut_user_agent(ua: str) -> str:
    return ua if len(ua) <= _MAX_USER_AGENT else ua[: _MAX_USER_AGENT - 3] + "..."


def pageview_properties(
    request: RequestView,
    *,
    title: str | None = None,
    route: str | None = None,
    view: str | None = None,
    route_name: str | None = None,
) -> dict[str, Any]:
    """The request-derived properties of a ``$pageview``, unmasked; the tracker adds
    identity and session (and masks the URLs, through its own :class:`RequestProperties`).

    ``title`` is the page's title (posthog-js: ``document.title``), ``route`` the matched
    route template, ``route_name`` its name (with its namespace) and ``view`` the view's
    dotted name.
    """
    return _PLAIN.pageview(request, title=title, route=route, view=view, route_name=route_name)


def _add_view_fields(
    props: dict[str, Any],
    title: str | None,
    route: str | None,
    view: str | None,
    route_name: str | None,
) -> None:
    if title:
        props[PROP_TITLE] = title
    if route:
        props[PROP_ROUTE] = route
    if route_name:
        props[PROP_ROUTE_NAME] = route_name
    if view:
        props[PROP_VIEW] = view


class RequestProperties:
    """The request-derived properties of every event, masked and capped, compiled once.

    One per tracker: it holds the tracker's URL masking, and caches what is derived from
    the Referer, User-Agent and Accept-Language headers (they repeat: search engines, the
    site's own pages, a handful of browsers). :func:`pageview_properties` gives the same
    properties unmasked and uncached.

    Args:
        mask: masks ``$current_url`` and ``$referrer`` (``privacy.URLMasker.mask``).
        cache_size: how many distinct header values each cache keeps (0: no cache).
    """

    def __init__(self, mask: Callable[[str], str], *, cache_size: int = _CACHE_SIZE) -> None:
        self._mask = mask
        self._referrer = lru_cache(maxsize=cache_size)(self._referrer_fields)
        self._client = lru_cache(maxsize=cache_size)(self._client_fields)

    def _referrer_fields(self, referer: str) -> Mapping[str, str]:
        headers = {"referer": referer}
        props = referrer_properties(headers)
        props.update(search_properties(headers))
        if props["$referrer"] != DIRECT:
            props["$referrer"] = self._mask(props["$referrer"])
            props["$referring_domain"] = cap_text(
                props["$referring_domain"], MAX_HEADER_VALUE_LENGTH
            )
        return props

    def location(self, request: RequestView) -> dict[str, Any]:
        """``$current_url`` (masked), ``$host`` and ``$pathname`` (capped)."""
        return {
            PROP_CURRENT_URL: self._mask(request.url),
            PROP_HOST: request.host[:MAX_HEADER_VALUE_LENGTH],
            PROP_PATHNAME: request.path[:MAX_URL_LENGTH],
        }

    def context(self, request: RequestView) -> dict[str, Any]:
        """What every event of a request carries: location, user agent and language."""
        props = self.location(request)
        self._add_client(props, request.headers)
        return props

    def pageview(
        self,
        request: RequestView,
        *,
        title: str | None = None,
        route: str | None = None,
        view: str | None = None,
        route_name: str | None = None,
    ) -> dict[str, Any]:
        """The request-derived properties of a ``$pageview``, masked and capped."""
        props = self.location(request)
        headers = request.headers
        referer = headers.get("referer")
        props.update(self._referrer(referer) if referer else _DIRECT_REFERRER)
        self._add_client(props, headers)
        if request.query_string:
            add_campaign_properties(props, request.query_string)
        _add_view_fields(props, title, route, view, route_name)
        return props

    def _add_client(self, props: dict[str, Any], headers: Mapping[str, str]) -> None:
        ua = headers.get("user-agent")
        language = headers.get("accept-language")
        if ua or language:
            # Bounded keys: nothing past these lengths changes the result.
            props.update(
                self._client(
                    ua[: _MAX_USER_AGENT + 1] if ua else None,
                    language if language and len(language) <= _MAX_LANGUAGE else None,
                )
            )

    @staticmethod
    def _client_fields(ua: str | None, language: str | None) -> Mapping[str, Any]:
        # Browsers send a handful of User-Agent and Accept-Language pairs: cached together.
        props: dict[str, Any] = {}
        if ua:
            props["$raw_user_agent"] = _cut_user_agent(ua)
            props.update(parse_user_agent(ua))
        props.update(language_properties({"accept-language": language} if language else {}))
        return props


_DIRECT_REFERRER: Mapping[str, str] = {"$referrer": DIRECT, "$referring_domain": DIRECT}


def _unmasked(url: str) -> str:
    return url


_PLAIN = RequestProperties(_unmasked, cache_size=0)
