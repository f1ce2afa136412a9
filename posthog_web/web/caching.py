"""Keeping per-visitor responses out of shared caches (issue 13, item 6).

A response that carries a per-visitor posthog-js bootstrap or a new package cookie must
never be stored by a shared cache (a CDN, Django's cache middleware, a reverse proxy):
served to the next visitor it would hand them the first visitor's id. The integrations
ask :meth:`~posthog_web.web.tracker.Tracker.per_visitor` and, when it says so, replace the
response's ``Cache-Control`` and ``Vary`` with :func:`private_cache_headers`.
"""

from __future__ import annotations

__all__ = ["private_cache_headers"]

# Directives for shared caches only: they mean nothing once the response is private.
_SHARED_ONLY = frozenset({"public", "s-maxage", "proxy-revalidate"})
# Already at least as strict as "private": the app's policy is kept as it is.
_STRICT = frozenset({"private", "no-store"})


def private_cache_headers(cache_control: str | None, vary: str | None) -> tuple[str, str]:
    """The ``Cache-Control`` and ``Vary`` values of a response no shared cache may store.

    ``Cache-Control``: kept as it is when it already says ``private`` or ``no-store``;
    otherwise ``public``, ``s-maxage`` and ``proxy-revalidate`` are removed and
    ``private`` is added, every other directive (``max-age``, ``no-cache``,
    ``must-revalidate``...) kept, so the visitor's own browser may still cache the page.
    ``Vary``: ``Cookie`` added unless already there (or ``*``).

    Args:
        cache_control: the response's ``Cache-Control`` header, or None.
        vary: the response's ``Vary`` header, or None.
    """
    directives = [d.strip() for d in (cache_control or "").split(",") if d.strip()]
    names = [d.partition("=")[0].strip().lower() for d in directives]
    if _STRICT.isdisjoint(names):
        kept = [d for d, n in zip(directives, names, strict=True) if n not in _SHARED_ONLY]
        cache_control = ", ".join(["private", *kept])
    else:
        cache_control = ", ".join(directives)
    fields = [f.strip() for f in (vary or "").split(",") if f.strip()]
    lowered = {f.lower() for f in fields}
    if "cookie" not in lowered and "*" not in lowered:
        fields.append("Cookie")
    return cache_control, ", ".join(fields)
