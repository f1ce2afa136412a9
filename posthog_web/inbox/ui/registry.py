"""The page's views, one module each: a view computes its figures (the JSON API) and renders
them (the HTML page). A new view plugs in with one ``register(View(...))``."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from posthog_web.inbox.flags import InboxFlags
from posthog_web.inbox.recorded import RecordedRequest
from posthog_web.inbox.ui.data import InboxData


@dataclass(frozen=True)
class ViewContext:
    """What a view reads: the stored events (cached), the request log, the query, the time
    and the flags the inbox serves."""

    data: InboxData
    requests: list[RecordedRequest]
    query: dict[str, str]
    now: dt.datetime
    flags: InboxFlags | None = None


@dataclass(frozen=True)
class View:
    """One view of the page.

    Args:
        name: its name: the figures are at ``/api/view/<name>``.
        title: the heading and the navigation label.
        figures: computes the view's figures (JSON-ready) from a context; raises ValueError for a
            bad query and LookupError for something not stored.
        render: the HTML body for those figures (every value escaped).
        path: the page's path; ``/<name>`` when None.
        nav: whether the navigation bar links it (detail pages do not).
        order: its place in the navigation bar (lower first).
    """

    name: str
    title: str
    figures: Callable[[ViewContext], dict[str, Any]]
    render: Callable[[ViewContext, dict[str, Any]], str]
    path: str | None = None
    nav: bool = True
    order: int = 100

    @property
    def page(self) -> str:
        """The page's path."""
        return self.path or f"/{self.name}"


_views: dict[str, View] = {}
_lock = threading.Lock()


def register(view: View) -> View:
    """Add ``view`` to the page (replacing one of the same name); return it."""
    with _lock:
        _views[view.name] = view
    return view


def by_name(name: str) -> View | None:
    """The view called ``name``, if registered."""
    return _views.get(name)


def by_page(path: str) -> View | None:
    """The view whose page is at ``path``, if any."""
    return next((v for v in list(_views.values()) if v.page == path), None)


def navigation() -> list[View]:
    """The views the navigation bar links, in registration order."""
    return sorted((v for v in list(_views.values()) if v.nav), key=lambda v: v.order)
