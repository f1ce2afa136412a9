"""What served a Django request: the route template, the view and the route's name.

A site translated with ``i18n_patterns`` serves ``/products/1/`` and ``/fr/products/1/``
from one pattern, and Django joins the language prefix into ``ResolverMatch.route``
(``fr/products/<int:pk>/``). The prefix is taken off, so a page has one ``route`` in
every language; ``$pathname`` keeps the language.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import LocalePrefixPattern, ResolverMatch
from django.utils import translation

__all__ = ["route_view_name"]


def route_view_name(request: HttpRequest) -> tuple[str | None, str | None, str | None]:
    """The route template, the view's dotted name and the route's namespaced name."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return None, None, None
    route = match.route
    if route:
        route = _without_language_prefix(route, match, request)
    # A route starting with "^" is a re_path() regular expression: sent as Django joined
    # it, without a "/" that would make it match nothing.
    if route is not None and not route.startswith(("/", "^")):
        route = "/" + route
    func = getattr(match.func, "view_class", match.func)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    view = f"{module}.{qualname}" if module and qualname else None
    return route or None, view, match.view_name if match.url_name else None


def _without_language_prefix(route: str, match: ResolverMatch, request: HttpRequest) -> str:
    # The last path tried is the one that matched; its first pattern is the root
    # URLconf's entry, an i18n_patterns() resolver when the site is translated.
    tried = getattr(match, "tried", None)
    if not tried or not isinstance(getattr(tried[-1][0], "pattern", None), LocalePrefixPattern):
        return route
    # The language the prefix was matched in: LocaleMiddleware's (a view activating
    # another one does not change it), else the active one. The default language has
    # no prefix with prefix_default_language=False.
    language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language()
    prefix = f"{language}/"
    return route[len(prefix) :] if language and route.startswith(prefix) else route
