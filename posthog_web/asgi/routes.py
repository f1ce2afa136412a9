"""The matched route, view and route name from the scope (Starlette's router sets them)."""

from __future__ import annotations

from posthog_web.asgi.types import Scope

__all__ = ["RouteInfo", "route_view_name"]

RouteInfo = tuple["str | None", "str | None", "str | None"]
# (id(route), id(endpoint), root paths) -> (route, endpoint, info); the objects are kept
# so that an id is never reused while its entry lives. Routes are few and long-lived.
_route_infos: dict[tuple[int, int, str, str], tuple[object, object, RouteInfo]] = {}
_ROUTE_INFOS_SIZE = 1024


def route_view_name(scope: Scope, root_path: str) -> RouteInfo:
    """The route template, endpoint name and route name the router left in the scope."""
    route, endpoint = scope.get("route"), scope.get("endpoint")
    key = (id(route), id(endpoint), scope.get("root_path", ""), root_path)
    cached = _route_infos.get(key)
    if cached is not None and cached[0] is route and cached[1] is endpoint:
        return cached[2]
    info = _describe_route(scope, root_path)
    if len(_route_infos) >= _ROUTE_INFOS_SIZE:
        _route_infos.clear()
    _route_infos[key] = (route, endpoint, info)
    return info


def _describe_route(scope: Scope, root_path: str) -> RouteInfo:
    route = scope.get("route")
    path = getattr(route, "path", None)
    template: str | None = None
    if isinstance(path, str):
        # Inside a Mount, root_path grew by the mount prefix and route.path is relative.
        final_root = scope.get("root_path", "")
        prefix = final_root[len(root_path) :] if final_root.startswith(root_path) else ""
        template = prefix + path
    name = getattr(route, "name", None)
    route_name = name if isinstance(name, str) and name and not name.startswith("<") else None
    endpoint = scope.get("endpoint")
    view: str | None = None
    if endpoint is not None:
        qualname = getattr(endpoint, "__qualname__", None) or type(endpoint).__qualname__
        module = getattr(endpoint, "__module__", None)
        view = f"{module}.{qualname}" if module else qualname
    return template, view, route_name
